/** Worker entry: the Hono app and the Durable Object class. */
import { createApp } from "./app.js";

export { TaskLedger } from "./ledger/task-ledger.js";
export default createApp();
