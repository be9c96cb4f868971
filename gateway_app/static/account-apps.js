// The account page's "Apps" panel: the apps you let sign you in through
// Gatehouse (OpenID Connect consents), each with a button that withdraws it
// and ends every token the app holds for you. Shown only when the provider
// is on (the list route answers 404 otherwise). Same rules as account.js:
// the token from sessionStorage, values written with textContent only.
"use strict";

(() => {
  const TOKEN_KEY = "gatehouse.token";
  const $ = (id) => document.getElementById(id);

  async function call(method, path) {
    const bearer = sessionStorage.getItem(TOKEN_KEY);
    if (!bearer) return { status: 401, body: null };
    try {
      const response = await fetch(path, {
        method,
        headers: { Accept: "application/json", Authorization: "Bearer " + bearer },
        credentials: "omit",
      });
      const type = response.headers.get("Content-Type") || "";
      const body = type.startsWith("application/json") ? await response.json() : null;
      return { status: response.status, body };
    } catch (err) {
      return { status: 0, body: null };
    }
  }

  async function loadApps() {
    const panel = $("apps");
    const result = await call("GET", "/api/account/apps");
    if (result.status !== 200 || !result.body || !Array.isArray(result.body.apps)) {
      panel.hidden = true;
      return;
    }
    const rows = result.body.apps.map((app) => {
      const row = document.createElement("tr");
      row.dataset.clientId = app.client_id;
      const granted = new Date(app.granted_at);
      for (const text of [app.name, app.scopes.join(" "), granted.toLocaleString()]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      const action = document.createElement("td");
      const revoke = document.createElement("button");
      revoke.type = "button";
      revoke.className = "secondary";
      revoke.textContent = "Revoke";
      revoke.addEventListener("click", () => forget(app.client_id));
      action.append(revoke);
      row.append(action);
      return row;
    });
    $("apps-list").replaceChildren(...rows);
    $("apps-empty").hidden = rows.length > 0;
    panel.hidden = false;
  }

  async function forget(clientId) {
    await call("DELETE", `/api/account/apps/${encodeURIComponent(clientId)}`);
    await loadApps();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const signedIn = $("signed-in");
    // account.js shows the signed-in panel after a login or a reload: follow it.
    const follow = () => {
      if (signedIn.hidden) $("apps").hidden = true;
      else loadApps();
    };
    new MutationObserver(follow).observe(signedIn, { attributes: true, attributeFilter: ["hidden"] });
    follow();
  });
})();
