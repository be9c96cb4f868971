// The account page's identity parts: the address's verified state (with a
// resend button), following an emailed link (#verify-email=TOKEN), and for
// admins a view of the admin API: list, search, disable / enable, force logout.
//
// It runs beside account.js without touching it: it watches the signed-in
// panel and reads the same sessionStorage token. Whether to show the admin view
// is read from the token's roles claim; the API checks the role on every call.
"use strict";

(() => {
  const TOKEN_KEY = "gatehouse.token";
  const PAGE_SIZE = 10;
  const $ = (id) => document.getElementById(id);
  let nextCursor = null;

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  async function call(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token()) headers.Authorization = "Bearer " + token();
    try {
      const response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
      });
      const type = response.headers.get("Content-Type") || "";
      return {
        status: response.status,
        body: type.startsWith("application/json") ? await response.json() : null,
      };
    } catch (err) {
      return { status: 0, body: null };
    }
  }

  function say(text, isError) {
    const box = $("message");
    box.textContent = text;
    box.classList.toggle("error", Boolean(isError));
    box.hidden = !text;
  }

  function failure(result) {
    if (result.status === 0) return "Cannot reach the server; try again.";
    const error = (result.body && result.body.error) || {};
    return error.message || `Request failed (${result.status})`;
  }

  // The token's roles, for showing the admin view only (never for access).
  function roles() {
    const parts = (token() || "").split(".");
    if (parts.length !== 3) return [];
    try {
      const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
      const claims = JSON.parse(json);
      return Array.isArray(claims.roles) ? claims.roles : [];
    } catch (err) {
      return [];
    }
  }

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  // ---- The profile's address ------------------------------------------

  async function showEmailState() {
    const box = $("email-state");
    const result = await call("GET", "/api/users/profile");
    if (result.status !== 200 || !result.body || typeof result.body.user.email_verified !== "boolean") {
      box.hidden = true;
      return;
    }
    const user = result.body.user;
    const parts = [element("span", user.email_verified ? "Verified" : "Not verified yet", user.email_verified ? "ok" : "")];
    parts[0].id = "email-verified";
    if (user.pending_email) {
      parts.push(element("span", ` · change to ${user.pending_email} waits for its link`));
    }
    if (!user.email_verified) {
      const resend = element("button", "Send the link again", "secondary");
      resend.type = "button";
      resend.id = "resend-verification";
      resend.addEventListener("click", onResend);
      parts.push(resend);
    }
    box.replaceChildren(...parts);
    box.hidden = false;
  }

  async function onResend() {
    const result = await call("POST", "/api/auth/verify-email/resend");
    if (result.status !== 202) {
      say(failure(result), true);
      return;
    }
    say(result.body.sent ? "A new verification link is on its way." : "Your address is already verified.");
    await showEmailState();
  }

  // A link from a mail: /account#verify-email=TOKEN (a fragment: no server logs it).
  async function followEmailLink() {
    const found = /^#verify-email=([A-Za-z0-9_-]+)$/.exec(window.location.hash);
    if (!found) return;
    history.replaceState(null, "", window.location.pathname);
    const result = await call("POST", "/api/auth/verify-email", { token: found[1] });
    if (result.status === 200) {
      say(`Email address ${result.body.user.email} confirmed.`);
      if (!$("signed-in").hidden) await showEmailState();
    } else {
      say(failure(result), true);
    }
  }

  // ---- The admin view --------------------------------------------------

  function userRow(user) {
    const row = element("tr");
    row.dataset.userId = String(user.id);
    const state = user.disabled ? "disabled" : user.email_verified ? "verified" : "unverified";
    const lastLogin = user.last_login_at ? new Date(user.last_login_at).toLocaleString() : "never";
    for (const text of [user.username, user.email, state, lastLogin]) row.append(element("td", text));
    const actions = element("td");
    const toggle = element("button", user.disabled ? "Enable" : "Disable", "secondary");
    toggle.type = "button";
    toggle.dataset.action = user.disabled ? "enable" : "disable";
    toggle.addEventListener("click", () => act(user, toggle.dataset.action));
    const logout = element("button", "Force logout", "secondary");
    logout.type = "button";
    logout.dataset.action = "logout";
    logout.addEventListener("click", () => act(user, "logout"));
    actions.append(toggle, logout);
    row.append(actions);
    return row;
  }

  async function act(user, action) {
    const result = await call("POST", `/api/admin/users/${encodeURIComponent(user.id)}/${action}`);
    if (result.status !== 200) {
      say(failure(result), true);
      return;
    }
    say(`${user.username}: ${result.body.message} (${result.body.sessions_ended} session(s) ended).`);
    await search(false);
  }

  async function search(more) {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE), sort: $("admin-sort").value });
    const q = $("admin-q").value.trim();
    if (q) params.set("q", q);
    if (more && nextCursor) params.set("cursor", nextCursor);
    const result = await call("GET", `/api/admin/users?${params}`);
    if (result.status !== 200) {
      say(failure(result), true);
      return;
    }
    const rows = result.body.users.map(userRow);
    if (more) $("admin-users").append(...rows);
    else $("admin-users").replaceChildren(...rows);
    nextCursor = result.body.next_cursor;
    $("admin-more").hidden = !nextCursor;
  }

  function buildAdminView(panel) {
    const form = element("form");
    form.id = "admin-search";
    form.noValidate = true;
    const label = element("label", "Name or email");
    label.htmlFor = "admin-q";
    const input = element("input");
    input.id = "admin-q";
    input.name = "q";
    input.type = "search";
    const sortLabel = element("label", "Sort by");
    sortLabel.htmlFor = "admin-sort";
    const sort = element("select");
    sort.id = "admin-sort";
    for (const [value, text] of [["created_at", "Newest"], ["username", "Username"], ["email", "Email"]]) {
      const option = element("option", text);
      option.value = value;
      sort.append(option);
    }
    const submit = element("button", "Search");
    submit.type = "submit";
    form.append(label, input, sortLabel, sort, submit);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      search(false);
    });
    const table = element("table");
    const head = element("thead");
    const headRow = element("tr");
    for (const text of ["Username", "Email", "State", "Last login", "Actions"]) {
      const cell = element("th", text);
      cell.scope = "col";
      headRow.append(cell);
    }
    head.append(headRow);
    const body = element("tbody");
    body.id = "admin-users";
    table.append(head, body);
    const more = element("button", "More", "secondary");
    more.type = "button";
    more.id = "admin-more";
    more.hidden = true;
    more.addEventListener("click", () => search(true));
    panel.replaceChildren(element("h2", "Users (admin)"), form, table, more);
  }

  async function onSignedIn() {
    await showEmailState();
    const panel = $("admin");
    if (!roles().includes("admin")) {
      panel.hidden = true;
      panel.replaceChildren();
      return;
    }
    if (!$("admin-users")) buildAdminView(panel);
    panel.hidden = false;
    await search(false);
  }

  function onSignedOut() {
    $("admin").hidden = true;
    $("admin").replaceChildren();
    $("email-state").hidden = true;
    nextCursor = null;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const signedIn = $("signed-in");
    let wasShown = false;
    // account.js shows or hides the panel as the token comes and goes; a new
    // login (another user, other roles) hides it first.
    new MutationObserver(() => {
      const shown = !signedIn.hidden;
      if (shown && !wasShown) onSignedIn();
      if (!shown && wasShown) onSignedOut();
      wasShown = shown;
    }).observe(signedIn, { attributes: true, attributeFilter: ["hidden"] });
    followEmailLink();
  });
  // A link opened in a tab already on this page changes only the fragment.
  window.addEventListener("hashchange", followEmailLink);
})();
