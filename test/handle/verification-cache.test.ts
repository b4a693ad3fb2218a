import { describe, expect, it } from "vitest";
import { VerificationCache } from "../../src/verification-cache.js";

describe("VerificationCache", () => {
  it("returns a value until it expires, then forgets it", () => {
    const cache = new VerificationCache<string>();
    cache.set("token", "claims", 2_000);
    expect(cache.get("token", 1_999)).toBe("claims");
    expect(cache.get("token", 2_000)).toBeUndefined();
    expect(cache.get("token", 1_000)).toBeUndefined();
  });

  it("is bounded: the oldest entry goes first", () => {
    const cache = new VerificationCache<number>(3);
    for (let i = 0; i < 4; i++) cache.set(`t${i}`, i, 10_000);
    expect(cache.get("t0", 0)).toBeUndefined();
    expect([cache.get("t1", 0), cache.get("t2", 0), cache.get("t3", 0)]).toEqual([1, 2, 3]);
  });
});
