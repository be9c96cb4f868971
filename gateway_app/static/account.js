// The account page: plain JavaScript over the public JSON API, no build step.
//
// The token lives in sessionStorage: it survives a reload of this tab but not
// the tab itself, is not shared with other tabs, and, unlike a cookie, is never
// sent by the browser on its own, so no cross-site request can use it (no CSRF).
// Script on this origin could read it; the page's Content-Security-Policy
// allows only our own script files and we write every value with textContent.
"use strict";

const TOKEN_KEY = "gatehouse.token";
const $ = (id) => document.getElementById(id);

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// One API call: {status, body}; status 0 when the server cannot be reached.
async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token()) headers.Authorization = "Bearer " + token();
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
    });
  } catch (err) {
    return { status: 0, body: null };
  }
  const type = response.headers.get("Content-Type") || "";
  const parsed = type.startsWith("application/json") ? await response.json() : null;
  return { status: response.status, body: parsed };
}

function showMessage(text, isError) {
  const box = $("message");
  box.textContent = text;
  box.classList.toggle("error", Boolean(isError));
  box.hidden = !text;
}

function clearErrors(form) {
  form.querySelectorAll(".field-error").forEach((p) => (p.textContent = ""));
  form.querySelectorAll("input").forEach((input) => input.removeAttribute("aria-invalid"));
}

// Field errors go next to the field the API names; anything else to the message area.
function showError(form, result) {
  if (result.status === 0) {
    showMessage("Cannot reach the server; try again.", true);
    return;
  }
  const error = (result.body && result.body.error) || {};
  const details = error.details || {};
  const unplaced = [];
  for (const [field, problems] of Object.entries(details)) {
    const text = Array.isArray(problems) ? problems.join(" ") : String(problems);
    const slot = form && form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
    if (slot) {
      slot.textContent = text;
      const input = form.querySelector(`[name="${CSS.escape(field)}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
    } else {
      unplaced.push(`${field}: ${text}`);
    }
  }
  const summary = error.message || `Request failed (${result.status})`;
  showMessage([summary, ...unplaced].join(" — "), true);
}

function formData(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function showSignedIn(signedIn) {
  $("signed-in").hidden = !signedIn;
  $("signed-out").hidden = signedIn;
}

function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString();
}

async function loadProfile() {
  const result = await api("GET", "/api/users/profile");
  if (result.status === 200) {
    const user = result.body.user;
    $("profile-username").textContent = user.username;
    $("profile-email").textContent = user.email;
    $("profile-created").textContent = when(user.created_at);
    showSignedIn(true);
    await loadSessions();
    // account-mfa.js shows the second factors.
    document.dispatchEvent(new CustomEvent("gatehouse:signed-in"));
    return;
  }
  if (result.status === 401) forgetToken();
  showSignedIn(false);
  if (result.status !== 401) showError(null, result);
}

// Shown only where the API lists sessions: older gateways answer 404 here.
async function loadSessions() {
  const panel = $("sessions");
  const result = await api("GET", "/api/auth/sessions");
  if (result.status !== 200 || !result.body || !Array.isArray(result.body.sessions)) {
    panel.hidden = true;
    return;
  }
  const rows = result.body.sessions.map((session) => {
    const row = document.createElement("tr");
    const client = [session.user_agent, session.ip].filter(Boolean).join(" · ");
    for (const text of [when(session.created_at), when(session.last_used_at), client]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    const action = document.createElement("td");
    const end = document.createElement("button");
    end.type = "button";
    end.className = session.current ? "secondary current" : "secondary";
    end.textContent = session.current ? "End (this session)" : "End";
    end.addEventListener("click", () => endSession(session.id, session.current));
    action.append(end);
    row.append(action);
    return row;
  });
  $("sessions-list").replaceChildren(...rows);
  panel.hidden = false;
}

async function endSession(id, current) {
  const result = await api("DELETE", `/api/auth/sessions/${encodeURIComponent(id)}`);
  if (result.status !== 204) {
    showError(null, result);
    return;
  }
  if (current) {
    forgetToken();
    showSignedIn(false);
    showMessage("This session has ended.");
    return;
  }
  showMessage("Session ended.");
  await loadSessions();
}

async function onLogin(event) {
  event.preventDefault();
  const form = event.target;
  clearErrors(form);
  const result = await api("POST", "/api/auth/login", formData(form));
  if (result.status !== 200) {
    showError(form, result);
    return;
  }
  if (!result.body.token) {
    // A second step first: a code, or enrolment when one is required (account-mfa.js).
    form.reset();
    document.dispatchEvent(new CustomEvent("gatehouse:second-step", { detail: result.body }));
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, result.body.token);
  form.reset();
  showMessage(`Logged in as ${result.body.user.username}.`);
  await loadProfile();
}

async function onRegister(event) {
  event.preventDefault();
  const form = event.target;
  clearErrors(form);
  const result = await api("POST", "/api/users/register", formData(form));
  if (result.status !== 201) {
    showError(form, result);
    return;
  }
  form.reset();
  $("login-username").value = result.body.user.username;
  showMessage(`Account ${result.body.user.username} created. Log in to continue.`);
  $("login-password").focus();
}

async function onChangePassword(event) {
  event.preventDefault();
  const form = event.target;
  clearErrors(form);
  const result = await api("PUT", "/api/auth/change-password", formData(form));
  if (result.status !== 200) {
    showError(form, result);
    if (result.status === 401 && !(result.body && result.body.error.code === "invalid_credentials")) {
      forgetToken();
      showSignedIn(false);
    }
    return;
  }
  form.reset();
  // Every session of the user has ended, this one included.
  forgetToken();
  showSignedIn(false);
  showMessage("Password changed. Log in with your new password.");
}

async function onLogout() {
  // Whatever the server answers (an older gateway has no logout), this tab forgets the token.
  await api("POST", "/api/auth/logout?scope=local");
  forgetToken();
  showSignedIn(false);
  showMessage("Logged out.");
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", onLogin);
  $("register-form").addEventListener("submit", onRegister);
  $("password-form").addEventListener("submit", onChangePassword);
  $("logout").addEventListener("click", onLogout);
  if (token()) {
    loadProfile();
  } else {
    showSignedIn(false);
  }
});
