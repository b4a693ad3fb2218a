import type { WorkerEnv } from "../config.js";
import { Refusal } from "../errors.js";
import type { TaskIdMapper } from "../mcp/rewrite.js";
import { shardLedger } from "./ledger-client.js";
import { ledgerPrincipalOf, type LedgerPrincipal } from "./types.js";

/**
 * One creation slot, reserved in the caller's ledger before its `tools/call` is forwarded (or a
 * 429 with Retry-After), and given back when the call yields no task: the origin failed, or
 * answered without creating one. A minted handle keeps the slot.
 */
export class CreationSlot {
  private minted = false;
  private settled = false;

  private constructor(
    private readonly env: WorkerEnv,
    private readonly principal: LedgerPrincipal,
    private readonly window: number,
  ) {}

  static async reserve(env: WorkerEnv, principal: LedgerPrincipal): Promise<CreationSlot> {
    const who = ledgerPrincipalOf(principal);
    const reservation = await shardLedger(env, principal.tenant, 0).reserveCreation(principal.tenant, who);
    if (!reservation.reserved) {
      const seconds = reservation.retryAfterSeconds;
      throw new Refusal("rate_limited", `retry after ${seconds}s`, `Too many requests; retry after ${seconds} seconds`, { retryAfterSeconds: seconds }, { "retry-after": String(seconds) });
    }
    return new CreationSlot(env, who, reservation.window);
  }

  /** The mapper, noting when it mints (the slot is then used). */
  track(mapper: TaskIdMapper): TaskIdMapper {
    return {
      ...mapper,
      mint: async (task) => {
        const minted = await mapper.mint(task);
        this.minted = true;
        return minted;
      },
    };
  }

  /**
   * Settles the slot once the answer is known: immediately for a JSON answer or a failure, at
   * the end of the stream for SSE (a task may be created by any event of it).
   */
  async settle(forwarding: Promise<Response>, waitUntil: (promise: Promise<unknown>) => void): Promise<Response> {
    let response: Response;
    try {
      response = await forwarding;
    } catch (error) {
      await this.release();
      throw error;
    }
    if (!response.body || !(response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
      await this.release();
      return response;
    }
    // A stream cut off before its end keeps the slot: that errs towards limiting.
    const watched = response.body.pipeThrough(new TransformStream({ flush: () => waitUntil(this.release()) }));
    return new Response(watched, { status: response.status, statusText: response.statusText, headers: response.headers });
  }

  private async release(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    if (this.minted) return;
    await shardLedger(this.env, this.principal.tenant, 0).releaseCreation(this.principal.tenant, this.principal, this.window).catch(() => undefined);
  }
}
