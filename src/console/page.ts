/** The console's one HTML page: no inline script or style, so the CSP needs no 'unsafe-inline'. */
export const CONSOLE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>taskward operator console</title>
<link rel="stylesheet" href="/console/console.css">
<script src="/console/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <h1>taskward operator console</h1>
  <p id="whoami" aria-live="polite"></p>
  <button type="button" id="sign-out" hidden>Sign out</button>
</header>
<main id="main">
  <p id="message" role="status" aria-live="polite"></p>

  <section id="login" aria-labelledby="login-heading">
    <h2 id="login-heading">Sign in</h2>
    <form id="login-form">
      <div class="field">
        <label for="token">Operator token</label>
        <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required aria-describedby="token-help">
        <p id="token-help" class="help">An OAuth access token for this server's admin API (audience <code>/admin</code>) with <code>taskward:*</code> roles. Kept in this tab only and sent as <code>Authorization: Bearer</code>; no cookies.</p>
      </div>
      <div class="field">
        <label for="tenant">Tenant</label>
        <input id="tenant" name="tenant" required autocomplete="off">
      </div>
      <button type="submit">Open tenant</button>
    </form>
  </section>

  <div id="workspace" hidden>
    <section aria-labelledby="chain-heading">
      <h2 id="chain-heading">Audit chain of <span class="tenant-name"></span></h2>
      <p id="chain-status"></p>
      <p id="checkpoint-status"></p>
      <div class="actions">
        <button type="button" id="verify">Verify again</button>
        <button type="button" id="export-chain">Export chain (NDJSON)</button>
        <button type="button" id="export-ocsf">Export OCSF (NDJSON)</button>
      </div>
    </section>

    <section aria-labelledby="search-heading">
      <h2 id="search-heading">Find tasks</h2>
      <form id="search-form" class="grid">
        <div class="field"><label for="q-client">Client</label><input id="q-client" name="client_id" autocomplete="off"></div>
        <div class="field"><label for="q-sub">Subject</label><input id="q-sub" name="sub" autocomplete="off"></div>
        <div class="field"><label for="q-tool">Tool</label><input id="q-tool" name="tool" autocomplete="off"></div>
        <div class="field"><label for="q-status">Status</label>
          <select id="q-status" name="status">
            <option value="">any</option><option>working</option><option>input_required</option><option>completed</option><option>failed</option><option>cancelled</option>
          </select>
        </div>
        <div class="field"><label for="q-since">Issued after</label><input id="q-since" name="since" type="datetime-local"></div>
        <div class="field"><label for="q-before">Issued before</label><input id="q-before" name="before" type="datetime-local"></div>
        <div class="actions"><button type="submit">Search</button></div>
      </form>
      <table id="tasks">
        <caption id="tasks-caption">No search yet.</caption>
        <thead><tr>
          <th scope="col">Issued</th><th scope="col">Tool</th><th scope="col">Client</th><th scope="col">Subject</th>
          <th scope="col">Status</th><th scope="col">Handle state</th><th scope="col">jti</th><th scope="col"><span class="visually-hidden">Actions</span></th>
        </tr></thead>
        <tbody></tbody>
      </table>
    </section>

    <section aria-labelledby="history-heading">
      <h2 id="history-heading">Task history</h2>
      <p id="history-for">Choose “History” on a task.</p>
      <ol id="history"></ol>
    </section>

    <section aria-labelledby="revoke-heading">
      <h2 id="revoke-heading">Revoke</h2>
      <form id="revoke-form" class="grid">
        <div class="field"><label for="r-scope">Scope</label>
          <select id="r-scope" name="scope">
            <option value="jti">one handle (jti)</option>
            <option value="task">one origin task (every handle)</option>
            <option value="client_id">a client</option>
            <option value="sub">a subject</option>
            <option value="tenant">the whole tenant</option>
          </select>
        </div>
        <div class="field"><label for="r-value">Value</label><input id="r-value" name="value" autocomplete="off"></div>
        <div class="field"><label for="r-reason">Reason</label><input id="r-reason" name="reason" maxlength="500" autocomplete="off"></div>
        <div class="field checkbox"><input id="r-cancel" name="cancel" type="checkbox"><label for="r-cancel">Also cancel in-flight tasks at the origin</label></div>
        <div class="actions"><button type="submit" class="danger">Revoke…</button></div>
      </form>
      <div id="revoke-result" aria-live="polite"></div>
    </section>
  </div>
</main>

<dialog id="confirm" aria-labelledby="confirm-heading" aria-describedby="confirm-text">
  <form method="dialog">
    <h2 id="confirm-heading">Confirm revocation</h2>
    <p id="confirm-text"></p>
    <div class="actions">
      <button value="keep" autofocus>Keep it</button>
      <button value="revoke" id="confirm-revoke" class="danger">Revoke</button>
    </div>
  </form>
</dialog>
</body>
</html>
`;
