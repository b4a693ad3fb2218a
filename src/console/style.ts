/** The console's stylesheet: system fonts, WCAG AA contrast, visible focus. */
export const CONSOLE_STYLE = `
:root { color-scheme: light; --fg: #111; --muted: #444; --bg: #fff; --line: #767676; --accent: #0b57d0; --danger: #a50e0e; --ok: #0d652d; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 1rem; padding: 0.75rem 1.5rem; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.25rem; margin: 0; }
header p { margin: 0; color: var(--muted); }
main { padding: 0 1.5rem 2rem; max-width: 80rem; }
section { margin-top: 1.5rem; }
h2 { font-size: 1.1rem; margin: 0 0 0.5rem; }
.field { display: flex; flex-direction: column; gap: 0.25rem; margin-bottom: 0.5rem; }
.field.checkbox { flex-direction: row; align-items: center; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr)); gap: 0 1rem; align-items: end; }
label { font-weight: 600; }
.help { margin: 0; color: var(--muted); font-size: 0.9rem; }
input, select, button { font: inherit; color: var(--fg); }
input, select { padding: 0.35rem 0.5rem; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); }
button { padding: 0.35rem 0.9rem; border: 1px solid var(--accent); border-radius: 4px; background: var(--accent); color: #fff; cursor: pointer; }
button.secondary { background: var(--bg); color: var(--accent); }
button.danger { background: var(--danger); border-color: var(--danger); }
button:disabled { background: #e0e0e0; border-color: #767676; color: #333; cursor: not-allowed; }
:focus-visible { outline: 3px solid #e37400; outline-offset: 2px; }
.actions { display: flex; flex-wrap: wrap; gap: 0.5rem; margin: 0.5rem 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
caption { text-align: left; color: var(--muted); padding: 0.25rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.85rem; word-break: break-all; }
.revoked { color: var(--danger); font-weight: 600; }
.live { color: var(--ok); font-weight: 600; }
#message:empty, #revoke-result:empty { display: none; }
#message, #revoke-result { padding: 0.5rem 0.75rem; border-left: 4px solid var(--ok); background: #eef7f0; }
#message.error { border-color: var(--danger); background: #fdecea; }
#history li { margin-bottom: 0.25rem; }
dialog { border: 2px solid var(--line); border-radius: 6px; max-width: 36rem; }
dialog::backdrop { background: rgb(0 0 0 / 0.4); }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 0.5rem; background: var(--bg); padding: 0.25rem 0.5rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;
