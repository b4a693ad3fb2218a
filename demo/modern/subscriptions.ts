/**
 * subscriptions/listen (2026-07-28): a POST answered with an event stream whose first event is
 * `notifications/subscriptions/acknowledged` (the accepted filter), followed by the subscribed
 * notifications — `notifications/tools/list_changed`, `notifications/prompts/list_changed` and,
 * with the tasks extension, `notifications/tasks` (a flat DetailedTask) for each change of a
 * subscribed task. Every event carries `_meta["io.modelcontextprotocol/subscriptionId"]` = the
 * listen request's id. Streams are bounded: they close gracefully (a final response) once every
 * subscribed task is terminal and no list-change flag was accepted, or after `maxMs`.
 */
import type { ServerResponse } from "node:http";
import { sseEvent, startEventStream } from "./channel.js";
import { META_SERVER_INFO, META_SUBSCRIPTION_ID, rpcNotification, rpcResult, type JsonObject, type RequestId } from "./protocol.js";
import { isTerminal, type DetailedTask, type TaskStore } from "./task-store.js";
import type { ServerEvents } from "./tools.js";

/** The part of a SubscriptionFilter this server honours. */
export interface AcceptedFilter {
  toolsListChanged?: true;
  promptsListChanged?: true;
  taskIds?: string[];
}

export interface SubscriptionOptions {
  /** Longest a listen stream stays open; default 5 minutes. */
  maxMs?: number;
  /** Keep-alive comment interval; default 15 s. */
  keepAliveMs?: number;
}

class ListenStream {
  private closed = false;
  private readonly open = new Set<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private unsubscribe: () => void = () => undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly id: RequestId,
    readonly filter: AcceptedFilter,
    private readonly serverInfo: JsonObject,
    private readonly onClose: (stream: ListenStream) => void,
  ) {}

  start(store: TaskStore, options: Required<SubscriptionOptions>): void {
    startEventStream(this.res);
    this.res.on("close", () => this.dispose());
    this.send("notifications/subscriptions/acknowledged", { notifications: this.filter });

    const taskIds = this.filter.taskIds ?? [];
    for (const taskId of taskIds) this.open.add(taskId);
    this.unsubscribe = store.subscribe((task) => this.onTask(task));
    // A task already over gets its final state at once (no change would ever announce it).
    for (const taskId of taskIds) {
      const task = store.get(taskId);
      if (task && isTerminal(task.status)) this.onTask(task);
    }
    if (this.closed) return;
    // Nothing left to deliver (no live task, no list-change flag): end right after the acknowledgement.
    if (this.open.size === 0 && !this.listensForLists()) return this.finish();
    this.timers.push(setTimeout(() => this.finish(), options.maxMs));
    this.timers.push(setInterval(() => this.res.write(": keep-alive\n\n"), options.keepAliveMs));
    for (const timer of this.timers) timer.unref();
  }

  /** A list-change (or other server-wide) notification, if this stream asked for it. */
  notify(method: string): void {
    this.send(method, {});
  }

  private onTask(task: DetailedTask): void {
    if (this.closed || !this.open.has(task.taskId)) return;
    this.send("notifications/tasks", { ...task });
    if (isTerminal(task.status)) {
      this.open.delete(task.taskId);
      if (this.open.size === 0 && !this.listensForLists()) this.finish();
    }
  }

  private listensForLists(): boolean {
    return this.filter.toolsListChanged === true || this.filter.promptsListChanged === true;
  }

  private send(method: string, params: JsonObject): void {
    if (this.closed) return;
    const meta = { ...(params._meta as JsonObject | undefined), [META_SUBSCRIPTION_ID]: this.id };
    this.res.write(sseEvent(rpcNotification(method, { ...params, _meta: meta })));
  }

  /** Graceful close: the listen request's response, tagged with the subscription id. */
  finish(): void {
    if (this.closed) return;
    this.res.end(sseEvent(rpcResult(this.id, { resultType: "complete", _meta: { [META_SUBSCRIPTION_ID]: this.id, [META_SERVER_INFO]: this.serverInfo } })));
    this.dispose();
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.unsubscribe();
    this.onClose(this);
  }
}

export class SubscriptionHub implements ServerEvents {
  private readonly streams = new Set<ListenStream>();
  private readonly options: Required<SubscriptionOptions>;

  constructor(
    private readonly store: TaskStore,
    private readonly serverInfo: JsonObject,
    options: SubscriptionOptions = {},
  ) {
    this.options = { maxMs: options.maxMs ?? 300_000, keepAliveMs: options.keepAliveMs ?? 15_000 };
  }

  /** Takes over `res`: acknowledges `filter` and streams until the subscription ends. */
  listen(res: ServerResponse, id: RequestId, filter: AcceptedFilter): void {
    const stream = new ListenStream(res, id, filter, this.serverInfo, (closed) => void this.streams.delete(closed));
    this.streams.add(stream);
    stream.start(this.store, this.options);
  }

  toolsListChanged(): void {
    for (const stream of this.streams) if (stream.filter.toolsListChanged) stream.notify("notifications/tools/list_changed");
  }

  promptsListChanged(): void {
    for (const stream of this.streams) if (stream.filter.promptsListChanged) stream.notify("notifications/prompts/list_changed");
  }

  close(): void {
    for (const stream of [...this.streams]) stream.finish();
  }
}
