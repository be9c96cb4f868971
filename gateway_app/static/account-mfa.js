// Two-factor authentication on the account page: the signed-in panel (state,
// enrol, confirm, recovery codes, regenerate, turn off) and the second step of
// a login (a code or a recovery code; or enrolment when it is required).
//
// Runs after account.js and uses its helpers (api, showMessage, showError,
// loadProfile, TOKEN_KEY). account.js tells this file what happened through
// two events: "gatehouse:signed-in" once the profile shows, and
// "gatehouse:second-step" when a login answered a challenge instead of a token.
//
// Every value is written with textContent; the QR code (an SVG the API drew)
// is shown through an <img> from a data: URL, so nothing in it can run.
"use strict";

(() => {
  // A small element builder: el("p", {id: "x", hidden: true}, "text", child...).
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (name === "hidden") node.hidden = Boolean(value);
      else node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  }

  function field(id, label, props) {
    const name = props.name;
    return el(
      "div",
      { class: "field" },
      el("label", { for: id }, label),
      el("input", { id, "aria-describedby": `${id}-error`, required: "", ...props }),
      el("p", { id: `${id}-error`, class: "field-error", "data-error-for": name, "aria-live": "polite" }),
    );
  }

  const codeField = (id) =>
    field(id, "Code from your authenticator app", {
      name: "code",
      inputmode: "numeric",
      autocomplete: "one-time-code",
      pattern: "[0-9]{6}",
      maxlength: "6",
    });
  const passwordField = (id) =>
    field(id, "Current password", { name: "password", type: "password", autocomplete: "current-password" });

  function qrImage(svg) {
    // btoa needs Latin-1; the SVG the API draws is ASCII.
    return el("img", {
      id: "mfa-qr",
      alt: "QR code for your authenticator app",
      src: "data:image/svg+xml;base64," + btoa(svg),
      width: "225",
      height: "225",
    });
  }

  function codesList(codes) {
    return el(
      "div",
      { id: "mfa-recovery-codes" },
      el("p", { class: "hint" }, "Recovery codes: each works once. Keep them somewhere safe; they are shown only now."),
      el("ol", {}, ...codes.map((code) => el("li", {}, el("code", {}, code)))),
    );
  }

  function fields(form) {
    const data = {};
    for (const [name, value] of new FormData(form).entries()) {
      if (value !== "") data[name] = value;
    }
    return data;
  }

  // ---------------------------------------------------------------- signed in

  let shownCodes = null; // recovery codes to show once, after enrolment or regeneration

  function panel() {
    return document.getElementById("mfa");
  }

  async function loadState() {
    const result = await api("GET", "/api/auth/mfa");
    const box = panel();
    if (result.status !== 200 || !result.body || !result.body.mfa) {
      box.hidden = true; // an older gateway, or the session ended
      return;
    }
    const mfa = result.body.mfa;
    const state = mfa.totp.enabled
      ? `On: authenticator app, ${mfa.recovery_codes_left} recovery code(s) left.`
      : mfa.required
        ? "Off, but required for this account: set it up now."
        : "Off.";
    const content = [el("h2", { id: "mfa-title" }, "Two-factor authentication"), el("p", { id: "mfa-state" }, state)];
    if (shownCodes) {
      content.push(codesList(shownCodes));
      shownCodes = null;
    }
    if (mfa.totp.enabled) {
      content.push(regenerateForm(), disableForm());
    } else {
      content.push(enrolForm());
    }
    box.replaceChildren(...content);
    box.hidden = false;
  }

  function enrolForm() {
    const form = el(
      "form",
      { id: "mfa-enrol-form", novalidate: "" },
      el("p", { class: "hint" }, "Use an authenticator app (codes that change every 30 seconds)."),
      passwordField("mfa-enrol-password"),
      el("button", { type: "submit" }, "Set up an authenticator app"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const result = await api("POST", "/api/auth/mfa/totp", fields(form));
      if (result.status !== 200) {
        showError(form, result);
        return;
      }
      form.replaceWith(confirmForm(result.body, (body) => api("POST", "/api/auth/mfa/totp/confirm", body), afterConfirm));
    });
    return form;
  }

  // The QR code, the secret for typing in by hand, and the form for the first code.
  function confirmForm(enrolment, send, done) {
    const form = el(
      "form",
      { id: "mfa-confirm-form", novalidate: "" },
      el("p", { class: "hint" }, "Scan this with your authenticator app, or type the key below, then give the code it shows."),
      qrImage(enrolment.qr_svg),
      el("p", {}, "Key: ", el("code", { id: "mfa-secret" }, enrolment.secret)),
      codeField("mfa-confirm-code"),
      el("button", { type: "submit" }, "Turn on"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const result = await send(fields(form));
      if (result.status !== 200) {
        showError(form, result);
        return;
      }
      await done(result.body);
    });
    return form;
  }

  async function afterConfirm(body) {
    shownCodes = body.recovery_codes;
    showMessage("Two-factor authentication is on. Keep your recovery codes safe.");
    await loadState();
  }

  function regenerateForm() {
    const form = el(
      "form",
      { id: "mfa-regenerate-form", novalidate: "" },
      el("h3", {}, "New recovery codes"),
      el("p", { class: "hint" }, "The old codes stop working."),
      passwordField("mfa-regenerate-password"),
      el("button", { type: "submit", class: "secondary" }, "Make new recovery codes"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const result = await api("POST", "/api/auth/mfa/recovery-codes", fields(form));
      if (result.status !== 200) {
        showError(form, result);
        return;
      }
      shownCodes = result.body.recovery_codes;
      showMessage("New recovery codes made; the old ones no longer work.");
      await loadState();
    });
    return form;
  }

  function disableForm() {
    const form = el(
      "form",
      { id: "mfa-disable-form", novalidate: "" },
      el("h3", {}, "Turn off"),
      el("p", { class: "hint" }, "Every other session ends."),
      passwordField("mfa-disable-password"),
      field("mfa-disable-code", "Code from your app, or a recovery code", { name: "code", autocomplete: "off" }),
      el("button", { type: "submit", class: "secondary" }, "Turn off two-factor authentication"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const data = fields(form);
      // Six digits are the app's code; anything else is taken for a recovery code.
      if (data.code && !/^[0-9]{6}$/.test(data.code)) {
        data.recovery_code = data.code;
        delete data.code;
      }
      const result = await api("DELETE", "/api/auth/mfa/totp", data);
      if (result.status !== 200) {
        showError(form, result);
        return;
      }
      showMessage(`Two-factor authentication is off; ${result.body.sessions_ended} other session(s) ended.`);
      await loadState();
      await loadSessions();
    });
    return form;
  }

  // ------------------------------------------------------ the second login step

  function stepPanel() {
    return document.getElementById("mfa-step");
  }

  async function signedIn(body, message) {
    sessionStorage.setItem(TOKEN_KEY, body.token);
    stepPanel().hidden = true;
    stepPanel().replaceChildren();
    showMessage(message);
    await loadProfile();
  }

  function verifyForm(challenge) {
    let useRecovery = false;
    const codeInput = codeField("mfa-step-code");
    const recoveryInput = field("mfa-step-recovery", "Recovery code", { name: "recovery_code", autocomplete: "off" });
    recoveryInput.hidden = true;
    const toggle = el("button", { type: "button", class: "secondary", id: "mfa-step-toggle" }, "Use a recovery code instead");
    toggle.hidden = !challenge.methods.includes("recovery_code");
    toggle.addEventListener("click", () => {
      useRecovery = !useRecovery;
      codeInput.hidden = useRecovery;
      recoveryInput.hidden = !useRecovery;
      toggle.textContent = useRecovery ? "Use a code from the app instead" : "Use a recovery code instead";
    });
    const form = el(
      "form",
      { id: "mfa-step-form", novalidate: "" },
      el("h2", {}, "Two-factor authentication"),
      el("p", { class: "hint" }, "Enter the code your authenticator app shows."),
      codeInput,
      recoveryInput,
      el("button", { type: "submit" }, "Continue"),
      " ",
      toggle,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const data = fields(form);
      const body = { mfa_token: challenge.mfa_token };
      if (useRecovery) body.recovery_code = data.recovery_code || "";
      else body.code = data.code || "";
      const result = await api("POST", "/api/auth/mfa/verify", body);
      if (result.status !== 200) {
        showError(form, result);
        if (result.status === 401 && result.body && result.body.error.code === "invalid_token") {
          stepPanel().hidden = true; // expired or spent: log in again
        }
        return;
      }
      const left = result.body.recovery_codes_left;
      await signedIn(
        result.body,
        left === undefined
          ? `Logged in as ${result.body.user.username}.`
          : `Logged in as ${result.body.user.username}; ${left} recovery code(s) left.`,
      );
    });
    return form;
  }

  function requiredEnrolment(challenge) {
    const start = el("button", { type: "button", id: "mfa-step-enrol" }, "Set up an authenticator app");
    const section = [
      el("h2", {}, "Two-factor authentication is required"),
      el("p", { class: "hint" }, "This account must have a second factor before it can sign in."),
      start,
    ];
    start.addEventListener("click", async () => {
      const result = await api("POST", "/api/auth/mfa/totp", { mfa_token: challenge.mfa_token });
      if (result.status !== 200) {
        showError(null, result);
        return;
      }
      const send = (body) => api("POST", "/api/auth/mfa/totp/confirm", { ...body, mfa_token: challenge.mfa_token });
      start.replaceWith(
        confirmForm(result.body, send, async (body) => {
          shownCodes = body.recovery_codes;
          await signedIn(body, `Two-factor authentication is on. Logged in as ${body.user.username}.`);
        }),
      );
    });
    return section;
  }

  document.addEventListener("gatehouse:second-step", (event) => {
    const challenge = event.detail;
    const box = stepPanel();
    box.replaceChildren(...(challenge.mfa_enrolment_required ? requiredEnrolment(challenge) : [verifyForm(challenge)]));
    box.hidden = false;
    showMessage(challenge.message || "One more step.");
    const first = box.querySelector("input, button");
    if (first) first.focus();
  });

  document.addEventListener("gatehouse:signed-in", () => {
    loadState();
  });
})();
