/**
 * The console's script, served as /console/console.js. Plain browser JavaScript (no template
 * literals: it lives in one). Everything shown is set with textContent, never parsed as HTML.
 */
export const CONSOLE_SCRIPT = String.raw`"use strict";
(function () {
  var TOKEN_KEY = "taskward.console.token";
  var TENANT_KEY = "taskward.console.tenant";
  var state = { token: sessionStorage.getItem(TOKEN_KEY) || "", tenant: sessionStorage.getItem(TENANT_KEY) || "", operator: null, pending: null };

  function $(id) { return document.getElementById(id); }
  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }
  function say(text, isError) {
    var message = $("message");
    message.textContent = text;
    message.className = isError ? "error" : "";
    message.setAttribute("role", isError ? "alert" : "status");
  }
  function when(ms) { return ms ? new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : ""; }
  function tenantPath() { return "/tenants/" + encodeURIComponent(state.tenant); }

  /** Calls the admin API with the operator token; resolves to {status, body, headers}. */
  async function api(path, init) {
    init = init || {};
    var headers = { authorization: "Bearer " + state.token };
    if (init.body !== undefined) headers["content-type"] = "application/json";
    var response = await fetch("/admin" + path, { method: init.method || "GET", headers: headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), credentials: "omit", cache: "no-store" });
    var text = await response.text();
    var body = text;
    if ((response.headers.get("content-type") || "").indexOf("application/json") === 0) {
      try { body = JSON.parse(text); } catch (e) { body = text; }
    }
    return { status: response.status, body: body, headers: response.headers };
  }
  function refusal(result) {
    var body = result.body || {};
    return "HTTP " + result.status + ": " + (body.message || body.error || String(body).slice(0, 200));
  }

  async function signIn(event) {
    event.preventDefault();
    state.token = $("token").value.trim();
    state.tenant = $("tenant").value.trim();
    await open();
  }

  async function open() {
    var who = await api("/whoami");
    if (who.status !== 200) {
      say("The token was refused. " + refusal(who), true);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, state.token);
    sessionStorage.setItem(TENANT_KEY, state.tenant);
    state.operator = who.body;
    var tenants = who.body.tenants === "*" ? "every tenant" : who.body.tenants.join(", ");
    $("whoami").textContent = "Signed in as " + who.body.id + " · roles: " + who.body.roles.join(", ") + " · " + tenants;
    $("login").hidden = true;
    $("workspace").hidden = false;
    $("sign-out").hidden = false;
    Array.prototype.forEach.call(document.querySelectorAll(".tenant-name"), function (node) { node.textContent = state.tenant; });
    say("Tenant " + state.tenant + " open.");
    $("q-client").focus();
    await Promise.all([verifyChain(), search()]);
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(TENANT_KEY);
    location.reload();
  }

  async function verifyChain() {
    var status = $("chain-status");
    var result = await api(tenantPath() + "/audit/verify");
    if (result.status !== 200) status.textContent = "Verification unavailable: " + refusal(result);
    else if (result.body.valid) status.textContent = "Chain verifies: " + result.body.events + " events intact" + (result.body.shards ? " in " + result.body.shards.length + " shard chains" : result.body.anchor ? " (from anchor seq " + result.body.anchor.seq + ")" : "") + ".";
    else status.textContent = "CHAIN BROKEN" + (result.body.shards ? " in shard " + result.body.shard : "") + " at seq " + result.body.brokenAt + ": " + result.body.problem;
    status.className = result.status === 200 && result.body.valid ? "live" : "revoked";
    var checkpoint = await api(tenantPath() + "/audit/checkpoint");
    var line = $("checkpoint-status");
    if (checkpoint.status === 200) {
      var c = checkpoint.body;
      line.textContent = "Last signed checkpoint: seq " + (c.seq !== undefined ? c.seq : "?") + (c.shards > 1 ? " of shard 0 (of " + c.shards + ")" : "") + (c.at ? " at " + when(c.at) : "") + (c.kid ? ", key " + c.kid : "") + ".";
    } else if (checkpoint.status === 404) {
      line.textContent = "Signed checkpoints: this server has no checkpoint endpoint, so only the verification status above is shown.";
    } else {
      line.textContent = "Signed checkpoint unavailable: " + refusal(checkpoint);
    }
  }

  function millis(value) { return value ? String(new Date(value).getTime()) : ""; }

  async function search(event) {
    if (event) event.preventDefault();
    var query = new URLSearchParams();
    [["q-client", "client_id"], ["q-sub", "sub"], ["q-tool", "tool"], ["q-status", "status"]].forEach(function (pair) {
      var value = $(pair[0]).value.trim();
      if (value) query.set(pair[1], value);
    });
    if ($("q-since").value) query.set("since", millis($("q-since").value));
    if ($("q-before").value) query.set("before", millis($("q-before").value));
    query.set("limit", "200");
    var result = await api(tenantPath() + "/tasks?" + query.toString());
    var body = $("tasks").querySelector("tbody");
    body.textContent = "";
    if (result.status !== 200) {
      $("tasks-caption").textContent = "Search failed: " + refusal(result);
      return;
    }
    var tasks = result.body.tasks;
    $("tasks-caption").textContent = tasks.length + " task" + (tasks.length === 1 ? "" : "s") + " in " + state.tenant + ", newest first" + (result.body.next_before ? " (more: narrow the search)" : "") + ".";
    tasks.forEach(function (task) {
      var row = document.createElement("tr");
      row.appendChild(el("td", when(task.issuedAt)));
      row.appendChild(el("td", task.tool));
      row.appendChild(el("td", task.clientId));
      row.appendChild(el("td", task.subject));
      row.appendChild(el("td", task.status));
      row.appendChild(el("td", task.revokedAt ? "revoked (" + task.revokeReason + ")" : "live", task.revokedAt ? "revoked" : "live"));
      row.appendChild(el("td", task.jti, "mono"));
      var actions = el("td");
      var history = el("button", "History", "secondary");
      history.type = "button";
      history.setAttribute("aria-label", "History of " + task.jti);
      history.addEventListener("click", function () { showHistory(task.jti); });
      var revoke = el("button", "Revoke…", "danger");
      revoke.type = "button";
      revoke.setAttribute("aria-label", "Revoke " + task.jti);
      revoke.disabled = !!task.revokedAt;
      revoke.addEventListener("click", function () {
        $("r-scope").value = "jti";
        $("r-value").value = task.jti;
        $("r-cancel").checked = task.status === "working" || task.status === "input_required";
        requestRevocation();
      });
      actions.appendChild(history);
      actions.appendChild(document.createTextNode(" "));
      actions.appendChild(revoke);
      row.appendChild(actions);
      body.appendChild(row);
    });
  }

  async function showHistory(jti) {
    var list = $("history");
    list.textContent = "";
    $("history-for").textContent = "Handle " + jti + ":";
    var result = await api(tenantPath() + "/tasks/" + encodeURIComponent(jti) + "/audit");
    if (result.status !== 200) {
      $("history-for").textContent = "History unavailable: " + refusal(result);
      return;
    }
    result.body.events.forEach(function (e) {
      var who = e.client_id ? e.client_id + "/" + e.subject : "";
      var detail = e.detail ? JSON.parse(e.detail) : {};
      var parts = ["#" + e.seq, when(e.at), e.type, e.op || "", who, e.reason || "", detail.actor ? "by " + detail.actor : "", e.count > 1 ? "×" + e.count + " until " + when(e.last_at) : ""];
      list.appendChild(el("li", parts.filter(Boolean).join(" · ")));
    });
    $("history-heading").scrollIntoView();
  }

  function revocationBody() {
    var scope = $("r-scope").value;
    var value = $("r-value").value.trim();
    var body = { tenant: state.tenant };
    if (scope === "tenant") body.scope = "tenant";
    else if (!value) return null;
    else body[scope] = value;
    if ($("r-reason").value.trim()) body.reason = $("r-reason").value.trim();
    if ($("r-cancel").checked) body.cancel = true;
    return body;
  }

  function describe(body) {
    var what = body.scope === "tenant" ? "EVERY handle of tenant " + state.tenant
      : body.jti ? "handle " + body.jti
      : body.task ? "every handle of origin task " + body.task
      : body.client_id ? "every handle of client " + body.client_id
      : "every handle of subject " + body.sub;
    return "Revoke " + what + (body.scope === "tenant" ? "" : " in tenant " + state.tenant) + (body.cancel ? ", and send a cancel to the origin for each in-flight task" : "") + "? Holders are refused from their very next request.";
  }

  function requestRevocation(event) {
    if (event) event.preventDefault();
    var body = revocationBody();
    if (!body) {
      say("Give the value to revoke (a jti, task id, client or subject).", true);
      $("r-value").focus();
      return;
    }
    state.pending = body;
    $("confirm-text").textContent = describe(body);
    $("confirm").showModal();
  }

  async function confirmed() {
    if ($("confirm").returnValue !== "revoke" || !state.pending) return;
    var body = state.pending;
    state.pending = null;
    var result = await api("/revocations", { method: "POST", body: body });
    var out = $("revoke-result");
    if (result.status !== 200) {
      out.textContent = "";
      say("Revocation refused. " + refusal(result), true);
      return;
    }
    var cancellations = result.body.cancellations || [];
    var cursor = result.body.cancel_cursor;
    while (cursor) {
      var next = await api("/revocations", { method: "POST", body: Object.assign({}, body, { cursor: cursor }) });
      if (next.status !== 200) break;
      cancellations = cancellations.concat(next.body.cancellations);
      cursor = next.body.cancel_cursor;
    }
    var summary = "Revoked " + (result.body.revoked !== undefined ? result.body.revoked + " handle(s)" : "scope " + (body.scope || body.client_id || body.sub)) + ".";
    if (body.cancel) summary += " Cancel sent for " + cancellations.length + " in-flight task(s): " + (cancellations.map(function (c) { return c.jti + " " + c.outcome; }).join("; ") || "none in flight") + ".";
    out.textContent = summary;
    say(summary, false);
    await Promise.all([search(), verifyChain()]);
  }

  async function exportAudit(format) {
    var lines = [];
    // Each ledger shard keeps its own chain: shard 0's answer says how many there are.
    var shards = 1;
    for (var shard = 0; shard < shards; shard++) {
      var after = 0;
      for (;;) {
        var result = await api(tenantPath() + "/audit?format=" + format + "&limit=10000&after=" + after + "&shard=" + shard);
        if (result.status !== 200) { say("Export refused. " + refusal(result), true); return; }
        shards = Number(result.headers.get("audit-shards") || "1");
        // Each shard's section starts with the header taskward audit verify --file expects.
        var section = shards > 1 ? { shard: shard, shards: shards } : {};
        if (format === "chain" && after === 0) lines.push(JSON.stringify(Object.assign({ taskward_audit: 1, tenant: state.tenant }, section, { anchor: result.headers.get("audit-anchor") })) + "\n");
        lines.push(result.body);
        var next = result.headers.get("audit-next-cursor");
        if (!next) break;
        after = Number(next);
      }
    }
    var link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob(lines, { type: "application/x-ndjson" }));
    link.download = state.tenant + (format === "ocsf" ? ".ocsf" : ".audit") + ".ndjson";
    document.body.appendChild(link);
    link.click();
    link.remove();
    say("Exported the audit trail of " + state.tenant + " (" + format + ").");
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("login-form").addEventListener("submit", signIn);
    $("search-form").addEventListener("submit", search);
    $("revoke-form").addEventListener("submit", requestRevocation);
    $("confirm").addEventListener("close", confirmed);
    $("verify").addEventListener("click", verifyChain);
    $("export-chain").addEventListener("click", function () { exportAudit("chain"); });
    $("export-ocsf").addEventListener("click", function () { exportAudit("ocsf"); });
    $("sign-out").addEventListener("click", signOut);
    $("tenant").value = state.tenant;
    if (state.token && state.tenant) open();
    else $("token").focus();
  });
})();
`;
