// Passkeys on the account page: register one, list and delete them, and sign in
// with one instead of a password. Uses account.js's api(), showMessage(),
// showError(), loadProfile() and TOKEN_KEY (classic scripts share one scope).
//
// The API speaks JSON, WebAuthn speaks ArrayBuffers: every binary member is
// base64url text on the wire and is converted here, in one place each way.
"use strict";

const PASSKEYS = "/api/auth/webauthn";

// base64url (no padding, as the API sends it) -> ArrayBuffer.
function base64urlToBuffer(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

// ArrayBuffer (or a view of one) -> base64url without padding.
function bufferToBase64url(buffer) {
  const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let binary = "";
  // In slices: String.fromCharCode takes its arguments on the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function descriptors(list) {
  return (list || []).map((d) => ({ ...d, id: base64urlToBuffer(d.id) }));
}

function creationOptions(json) {
  return {
    ...json,
    challenge: base64urlToBuffer(json.challenge),
    user: { ...json.user, id: base64urlToBuffer(json.user.id) },
    excludeCredentials: descriptors(json.excludeCredentials),
  };
}

function requestOptions(json) {
  return {
    ...json,
    challenge: base64urlToBuffer(json.challenge),
    allowCredentials: descriptors(json.allowCredentials),
  };
}

// The PublicKeyCredential as the API reads it: exactly these members.
function credentialJSON(credential, response) {
  return {
    id: credential.id,
    rawId: bufferToBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment || null,
    clientExtensionResults: {},
    response,
  };
}

function attestationJSON(credential) {
  const r = credential.response;
  return credentialJSON(credential, {
    clientDataJSON: bufferToBase64url(r.clientDataJSON),
    attestationObject: bufferToBase64url(r.attestationObject),
    transports: typeof r.getTransports === "function" ? r.getTransports() : [],
  });
}

function assertionJSON(credential) {
  const r = credential.response;
  return credentialJSON(credential, {
    clientDataJSON: bufferToBase64url(r.clientDataJSON),
    authenticatorData: bufferToBase64url(r.authenticatorData),
    signature: bufferToBase64url(r.signature),
    userHandle: r.userHandle ? bufferToBase64url(r.userHandle) : null,
  });
}

// What the browser says when the person cancels, or the authenticator refuses.
function browserRefusal(err) {
  if (err && err.name === "NotAllowedError") return "The passkey request was cancelled or timed out.";
  if (err && err.name === "InvalidStateError") return "This authenticator already holds a passkey for this account.";
  if (err && err.name === "SecurityError") return "Passkeys need https or http://localhost (not an IP address).";
  return "The browser could not use a passkey" + (err && err.message ? `: ${err.message}` : ".");
}

function element(tag, props, children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  if (children) node.append(...children);
  return node;
}

function passkeysSupported() {
  return typeof window.PublicKeyCredential === "function" && navigator.credentials;
}

async function signInWithPasskey() {
  const username = $("login-username").value.trim();
  const options = await api("POST", `${PASSKEYS}/login/options`, username ? { username } : {});
  if (options.status !== 200) {
    showError(null, options);
    return;
  }
  let credential;
  try {
    credential = await navigator.credentials.get({ publicKey: requestOptions(options.body.publicKey) });
  } catch (err) {
    showMessage(browserRefusal(err), true);
    return;
  }
  const result = await api("POST", `${PASSKEYS}/login`, {
    ceremony: options.body.ceremony,
    credential: assertionJSON(credential),
  });
  if (result.status !== 200) {
    showError(null, result);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, result.body.token);
  $("login-form").reset();
  showMessage(`Logged in with a passkey as ${result.body.user.username}.`);
  await loadProfile();
}

async function registerPasskey(event) {
  event.preventDefault();
  const form = event.target;
  clearErrors(form);
  const options = await api("POST", `${PASSKEYS}/register/options`);
  if (options.status !== 200) {
    showError(form, options);
    return;
  }
  let credential;
  try {
    credential = await navigator.credentials.create({ publicKey: creationOptions(options.body.publicKey) });
  } catch (err) {
    showMessage(browserRefusal(err), true);
    return;
  }
  const name = $("passkey-name").value.trim();
  const body = { ceremony: options.body.ceremony, credential: attestationJSON(credential) };
  if (name) body.name = name;
  const result = await api("POST", `${PASSKEYS}/register`, body);
  if (result.status !== 201) {
    showError(form, result);
    return;
  }
  form.reset();
  showMessage(`Passkey "${result.body.passkey.name}" added.`);
  await loadPasskeys();
}

async function deletePasskey(passkey) {
  const result = await api("DELETE", `${PASSKEYS}/credentials/${encodeURIComponent(passkey.id)}`);
  if (result.status !== 204) {
    showError(null, result);
    return;
  }
  showMessage(`Passkey "${passkey.name}" deleted.`);
  await loadPasskeys();
}

function passkeyRow(passkey) {
  const remove = element("button", { type: "button", className: "secondary", textContent: "Delete" });
  remove.addEventListener("click", () => deletePasskey(passkey));
  const cells = [passkey.name, when(passkey.created_at), passkey.last_used_at ? when(passkey.last_used_at) : "never"];
  return element("tr", {}, [...cells.map((text) => element("td", { textContent: text })), element("td", {}, [remove])]);
}

// Shown only where the API has passkeys: older gateways answer 404 here.
async function loadPasskeys() {
  const panel = $("passkeys");
  const result = await api("GET", `${PASSKEYS}/credentials`);
  if (result.status !== 200 || !result.body || !Array.isArray(result.body.passkeys)) {
    panel.hidden = true;
    return;
  }
  const rows = result.body.passkeys.map(passkeyRow);
  $("passkeys-list").replaceChildren(...rows);
  $("passkeys-empty").hidden = rows.length > 0;
  panel.hidden = false;
}

function buildPanel() {
  const nameField = element("div", { className: "field" }, [
    element("label", { htmlFor: "passkey-name", textContent: "Name (optional)" }),
    element("input", { id: "passkey-name", name: "name", maxLength: 64, placeholder: "e.g. Work laptop" }),
    element("p", { id: "passkey-name-error", className: "field-error" }),
  ]);
  nameField.querySelector("p").dataset.errorFor = "name";
  const form = element("form", { id: "passkey-form", noValidate: true }, [
    nameField,
    element("button", { type: "submit", textContent: "Add a passkey" }),
  ]);
  form.addEventListener("submit", registerPasskey);
  const head = element("tr", {}, ["Name", "Added", "Last used"].map((t) => element("th", { scope: "col", textContent: t })));
  head.append(element("th", { scope: "col" }, [element("span", { className: "visually-hidden", textContent: "Action" })]));
  $("passkeys").append(
    element("h2", { id: "passkeys-title", textContent: "Passkeys" }),
    element("p", { className: "hint", textContent: "Sign in with your device's screen lock or a security key instead of a password." }),
    form,
    element("p", { id: "passkeys-empty", className: "hint", textContent: "No passkeys yet." }),
    element("table", {}, [element("thead", {}, [head]), element("tbody", { id: "passkeys-list" })]),
  );
}

document.addEventListener("DOMContentLoaded", () => {
  if (!passkeysSupported()) return;
  const button = element("button", { type: "button", id: "passkey-login", className: "secondary", textContent: "Sign in with a passkey" });
  button.addEventListener("click", signInWithPasskey);
  $("passkey-signin").append(button);
  buildPanel();
  // account.js shows the signed-in panels once the profile loads: list the passkeys then.
  const signedIn = $("signed-in");
  new MutationObserver(() => {
    if (!signedIn.hidden) loadPasskeys();
  }).observe(signedIn, { attributes: true, attributeFilter: ["hidden"] });
  if (!signedIn.hidden) loadPasskeys();
});
