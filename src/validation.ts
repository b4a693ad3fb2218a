// zod's small build keeps validation off the cold start (the full build was two thirds of the Worker bundle).
import { config } from "zod/mini";
import { en } from "zod/locales";

// zod/mini ships no messages; these are the English ones the full build answered with.
config(en());

// Named re-exports, not the namespace: a re-exported namespace would pull every zod module into the bundle.
export { array, boolean, enum, int, literal, maxLength, maximum, minLength, minimum, optional, positive, record, refine, regex, strictObject, string, union } from "zod/mini";
export type { ZodMiniType } from "zod/mini";
