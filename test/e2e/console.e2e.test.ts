/**
 * The operator console in real headless Chromium (Debian's package, driven by playwright-core)
 * against a real authority under `wrangler dev`, the demo origin and the official SDK client:
 * sign in with an operator token, find a task, read its history, revoke it with cancel, and see
 * the holder's next poll refused. Also the CLI's operator token, `revoke --cancel` and OCSF export.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoOrigin, type DemoOrigin } from "../../demo/origin.js";
import { generateSigningJwks, loadKeyRing, type KeyRing } from "../../src/handle/keyring.js";
import { ORIGIN_ASSERTION_HEADER, signOriginAssertion } from "../../src/proxy/origin-assertion.js";
import { claimsOf, connect, createTask, messagesIn, type Caller, expectTaskNotFound } from "./support/mcp.js";
import { ROOT, freePort, startAuthority, writeSecretsFile, type Authority } from "./support/processes.js";

const run = promisify(execFile);
const CHROMIUM = "/usr/bin/chromium";
const TENANT = "console";
const SCREENSHOT = join(ROOT, "docs/console.png");
let tmp: string;
let base: string;
let adminToken: string;
let operatorToken: string;
let demo: DemoOrigin;
let authority: Authority | undefined;
let browser: BrowserContext | undefined;
let keyRing: KeyRing | undefined;
const callers: Caller[] = [];

async function taskward(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, TASKWARD_URL: base, TASKWARD_ADMIN_TOKEN: operatorToken ?? "" };
  try {
    const { stdout, stderr } = await run(process.execPath, ["bin/taskward.mjs", ...args], { env, cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function caller(sub: string): Promise<Caller> {
  const connected = await connect(base, { tenant: TENANT, client_id: "console-app", sub });
  callers.push(connected);
  return connected;
}

/** The origin's id of the task behind a handle, from the ledger (client handles do not carry it). */
async function originTaskId(handle: string): Promise<string> {
  const { tenant, jti } = claimsOf(handle);
  const response = await fetch(`${base}/admin/tenants/${tenant}/tasks/${jti}`, { headers: { authorization: `Bearer ${adminToken}` } });
  expect(response.status).toBe(200);
  return ((await response.json()) as { taskId: string }).taskId;
}

/**
 * What the demo origin itself reports for a 2025-11-25 task, asked on the task's origin session
 * with an origin assertion signed as the edge would (the client holds only a sealed session id).
 */
async function originStatus(owner: Caller, handle: string): Promise<string | undefined> {
  const task = await originTaskId(handle);
  const session = demo.received.find((m) => m.method === "tools/call" && (m as { assertion?: { sub?: string } }).assertion?.sub === owner.identity.sub)!.sessionId!;
  const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tasks/get", params: { taskId: task } });
  const assertion = await signOriginAssertion({
    keyRing: keyRing!, issuer: base, audience: demo.url, ttlSeconds: 60, op: "get", txn: `probe-${randomBytes(8).toString("hex")}`,
    principal: { tenant: owner.identity.tenant, clientId: owner.identity.client_id, subject: owner.identity.sub },
    body: new TextEncoder().encode(body), task, handleJti: claimsOf(handle).jti,
  });
  const response = await fetch(demo.url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25", "mcp-session-id": session, [ORIGIN_ASSERTION_HEADER]: assertion },
    body,
  });
  return messagesIn(await response.text()).find((m) => m.id === 1)?.result?.status;
}

/** What has the keyboard focus (evaluated in the page; the tests compile without the DOM library). */
const focusedId = (page: Page): Promise<string | undefined> => page.evaluate("document.activeElement?.id");
const focusedText = (page: Page): Promise<string | undefined> => page.evaluate("document.activeElement?.textContent");

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "taskward-console-e2e-"));
  const signingJwks = await generateSigningJwks("EdDSA");
  keyRing = await loadKeyRing(signingJwks);
  const kid = JSON.parse(signingJwks).active as string;
  adminToken = randomBytes(24).toString("base64url");
  const secretsFile = join(tmp, "secrets.env");
  writeSecretsFile(secretsFile, { HANDLE_SIGNING_JWKS: signingJwks, ADMIN_TOKEN: adminToken });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  demo = await startDemoOrigin({ port: 0, assertionVerification: { issuer: base, jwks: new URL(`${base}/.well-known/jwks.json`) } });
  authority = await startAuthority({ port, originUrl: demo.url, persistTo: join(tmp, "state"), secretsFile, kid });
  const minted = await taskward("operator-token", "--sub", "console-e2e", "--roles", "taskward:read,taskward:revoke,taskward:cancel,taskward:audit", "--tenants", TENANT);
  expect(minted.code, minted.stderr).toBe(0);
  operatorToken = minted.stdout.trim();
  const profile = join(tmp, "chromium-profile");
  mkdirSync(profile);
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 900 },
  });
});

afterAll(async () => {
  await browser?.close();
  await Promise.allSettled(callers.map(({ client }) => client.close()));
  await authority?.stop();
  await demo?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("operator console in headless Chromium", () => {
  it("signs in, finds a task, shows its history, revokes it with cancel; the next poll is refused and the origin's task is cancelled", async () => {
    const alice = await caller("alice");
    const bob = await caller("bob");
    const handle = await createTask(alice.client, "long_job", { seconds: 120 });
    await createTask(bob.client, "slow_echo", { text: "bystander", delayMs: 20 });
    for (let i = 0; i < 3; i++) await alice.client.experimental.tasks.getTask(handle);
    const { jti } = claimsOf(handle);
    expect(await originStatus(alice, handle)).toBe("working");

    const page = await browser!.newPage();
    const problems: string[] = [];
    // Failed loads are judged by URL below; any other console error or CSP violation is a bug.
    page.on("console", (message) => void (message.type() === "error" && !message.text().startsWith("Failed to load resource") && problems.push(message.text())));
    const failed: string[] = [];
    page.on("response", (reply) => void (reply.status() >= 400 && failed.push(`${reply.status()} ${new URL(reply.url()).pathname}`)));
    page.on("pageerror", (error) => void problems.push(error.message));
    const thirdParty: string[] = [];
    page.on("request", (request) => void (!request.url().startsWith(base) && !request.url().startsWith("blob:") && thirdParty.push(request.url())));

    const response = await page.goto(`${base}/console`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()["content-security-policy"]).toContain("script-src 'self'");

    // Keyboard only: the labelled fields, then Enter.
    await page.getByLabel("Operator token").fill(operatorToken);
    await page.getByLabel("Tenant").fill(TENANT);
    await page.getByLabel("Tenant").press("Enter");
    await expect.poll(() => page.locator("#whoami").textContent()).toContain(`${base}/dev#console-e2e`);
    await expect.poll(() => page.locator("#chain-status").textContent()).toMatch(/^Chain verifies: \d+ events intact/);
    await expect.poll(() => page.locator("#checkpoint-status").textContent()).toMatch(/^(Last signed checkpoint|Signed checkpoints: this server has no checkpoint endpoint)/);

    await page.getByLabel("Subject").fill("alice");
    await page.getByLabel("Tool").fill("long_job");
    await page.getByRole("button", { name: "Search" }).click();
    const row = page.locator("#tasks tbody tr", { hasText: jti });
    // The tenant's two tasks show on opening; the search narrows them to alice's long_job.
    await expect.poll(() => page.locator("#tasks-caption").textContent()).toBe(`1 task in ${TENANT}, newest first.`);
    expect(await row.count()).toBe(1);
    expect(await row.textContent()).toContain("working");

    await page.getByRole("button", { name: `History of ${jti}` }).click();
    await expect.poll(() => page.locator("#history li").allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining("issued"), expect.stringMatching(/allowed · get · console-app\/alice/)]));

    await page.getByLabel("Reason").fill("incident 451");
    await page.getByRole("button", { name: `Revoke ${jti}` }).click();
    const dialog = page.getByRole("dialog", { name: "Confirm revocation" });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await page.getByLabel("Also cancel in-flight tasks at the origin").isChecked()).toBe(true);
    expect(await dialog.textContent()).toContain(`Revoke handle ${jti} in tenant ${TENANT}, and send a cancel to the origin`);
    await dialog.getByRole("button", { name: "Revoke" }).click();
    await expect.poll(() => page.locator("#revoke-result").textContent()).toBe(`Revoked 1 handle(s). Cancel sent for 1 in-flight task(s): ${jti} cancelled.`);
    await expect.poll(() => row.textContent()).toContain("revoked (incident 451)");
    expect(await page.getByRole("button", { name: `Revoke ${jti}` }).isDisabled()).toBe(true);

    await page.getByRole("button", { name: `History of ${jti}` }).click();
    await expect.poll(() => page.locator("#history li").allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining(`cancel · cancelled · by ${base}/dev#console-e2e`)]));
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    await expectTaskNotFound(alice.client.experimental.tasks.getTask(handle));
    expect(await originStatus(alice, handle)).toBe("cancelled");
    expect(problems).toEqual([]);
    // Only the signed-checkpoint endpoint may be missing (it is not on every server).
    expect(failed.filter((entry) => entry !== `404 /admin/tenants/${TENANT}/audit/checkpoint`)).toEqual([]);
    expect(thirdParty).toEqual([]);
    await page.close();
  });

  it("works from the keyboard, and Escape on the confirmation revokes nothing", async () => {
    const erin = await caller("erin");
    const handle = await createTask(erin.client, "long_job", { seconds: 120 });
    const { jti } = claimsOf(handle);
    const page = await browser!.newPage();
    await page.goto(`${base}/console`);
    // The token field has focus on arrival; Tab walks token → tenant → submit.
    await expect.poll(() => focusedId(page)).toBe("token");
    await page.keyboard.type(operatorToken);
    await page.keyboard.press("Tab");
    await page.keyboard.type(TENANT);
    await page.keyboard.press("Tab");
    expect(await focusedText(page)).toBe("Open tenant");
    await page.keyboard.press("Enter");
    await expect.poll(() => focusedId(page)).toBe("q-client");
    const revoke = page.getByRole("button", { name: `Revoke ${jti}` });
    await expect.poll(() => revoke.count()).toBe(1);
    await revoke.focus();
    await page.keyboard.press("Space");
    const dialog = page.getByRole("dialog", { name: "Confirm revocation" });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    // The safe choice has focus; Escape closes the dialog without revoking.
    expect(await focusedText(page)).toBe("Keep it");
    await page.keyboard.press("Escape");
    await expect.poll(() => dialog.isVisible()).toBe(false);
    expect((await erin.client.experimental.tasks.getTask(handle)).status).toBe("working");
    expect(await originStatus(erin, handle)).toBe("working");
    await page.close();
  });

  it("exports the chain as a file the CLI verifies offline, and the OCSF form with one event per chain event", async () => {
    const page = await browser!.newPage();
    await page.goto(`${base}/console`);
    // sessionStorage belongs to one tab: a new page signs in again.
    await page.getByLabel("Operator token").fill(operatorToken);
    await page.getByLabel("Tenant").fill(TENANT);
    await page.getByRole("button", { name: "Open tenant" }).click();
    await expect.poll(() => page.locator("#chain-status").textContent()).toMatch(/^Chain verifies/);
    const [chainDownload] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export chain (NDJSON)" }).click()]);
    const chainFile = join(tmp, chainDownload.suggestedFilename());
    await chainDownload.saveAs(chainFile);
    expect(chainDownload.suggestedFilename()).toBe(`${TENANT}.audit.ndjson`);
    const verified = await taskward("audit", "verify", "--file", chainFile);
    expect(verified.code, verified.stderr).toBe(0);
    const chainEvents = JSON.parse(verified.stdout).events as number;
    const [ocsfDownload] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export OCSF (NDJSON)" }).click()]);
    const ocsfFile = join(tmp, ocsfDownload.suggestedFilename());
    await ocsfDownload.saveAs(ocsfFile);
    const ocsf = readFileSync(ocsfFile, "utf8").trim().split("\n").map((line) => JSON.parse(line));
    expect(ocsf).toHaveLength(chainEvents);
    expect(ocsf.every((event) => event.metadata.product.name === "taskward" && event.type_uid === event.class_uid * 100 + event.activity_id)).toBe(true);
    await page.close();
  });

  it("refuses a bad token in the page, and an operator without audit sees why", async () => {
    const page = await browser!.newPage();
    await page.goto(`${base}/console`);
    await page.getByLabel("Operator token").fill("not-a-token");
    await page.getByLabel("Tenant").fill(TENANT);
    await page.getByRole("button", { name: "Open tenant" }).click();
    await expect.poll(() => page.locator("#message").textContent()).toBe("The token was refused. HTTP 401: A valid admin credential is required");
    expect(await page.locator("#workspace").isHidden()).toBe(true);

    const reader = await taskward("operator-token", "--sub", "reader", "--roles", "taskward:read", "--tenants", TENANT);
    await page.getByLabel("Operator token").fill(reader.stdout.trim());
    await page.getByRole("button", { name: "Open tenant" }).click();
    await expect.poll(() => page.locator("#chain-status").textContent()).toBe("Verification unavailable: HTTP 403: This operation requires the taskward:audit role");
    await expect.poll(() => page.locator("#tasks-caption").textContent()).toMatch(/^\d+ tasks? in console, newest first/);
    await page.close();
  });
});

describe("operator CLI with an operator token", () => {
  it("revoke --cancel stops the subject's in-flight tasks; the OCSF export names the operator", async () => {
    const carol = await caller("carol");
    const handle = await createTask(carol.client, "long_job", { seconds: 120 });
    const revoked = await taskward("revoke", "--tenant", TENANT, "--sub", "carol", "--cancel", "--reason", "offboarded");
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stderr).toBe("revoked; cancel sent for 1 in-flight task(s)\n");
    expect(JSON.parse(revoked.stdout).cancellations).toEqual([{ jti: claimsOf(handle).jti, task: await originTaskId(handle), outcome: "cancelled", status: "cancelled" }]);
    await expectTaskNotFound(carol.client.experimental.tasks.getTask(handle));
    expect(await originStatus(carol, handle)).toBe("cancelled");

    const exported = await taskward("audit", "export", "--tenant", TENANT, "--format", "ocsf");
    expect(exported.code, exported.stderr).toBe(0);
    const events = exported.stdout.trim().split("\n").map((line) => JSON.parse(line));
    const cancel = events.find((e) => e.metadata.event_code === "cancel" && e.entity.uid === claimsOf(handle).jti);
    expect(cancel).toMatchObject({ class_uid: 3004, activity_name: "Cancel", actor: { user: { uid: `${base}/dev#console-e2e` } } });
    const scope = events.find((e) => e.metadata.event_code === "revoked" && e.entity.uid === "subject:carol");
    expect(scope).toMatchObject({ comment: "offboarded", actor: { user: { uid: `${base}/dev#console-e2e` } } });
  });

  it("refuses an unknown export format before calling the server", async () => {
    const result = await taskward("audit", "export", "--tenant", TENANT, "--format", "cef");
    expect(result.code).toBe(2);
    expect(result.stderr.split("\n")[0]).toBe("--format must be chain or ocsf, got cef");
  });

  it("an operator limited to other tenants is refused with the server's reason", async () => {
    const other = await taskward("operator-token", "--sub", "elsewhere", "--roles", "taskward:read", "--tenants", "another-tenant");
    const result = await taskward("tasks", "--tenant", TENANT, "--admin-token", other.stdout.trim());
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`HTTP 403: This operator is not granted tenant ${TENANT}\n`);
  });
});
