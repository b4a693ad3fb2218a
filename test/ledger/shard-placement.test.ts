/** Issue 15 (items 1 and 6): shard configuration, its validation, and where shard objects are placed. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig, type WorkerEnv } from "../../src/config.js";
import { shardLedger } from "../../src/ledger/ledger-client.js";
import { locationHintFor } from "../../src/ledger/placement.js";
import { MAX_LEDGER_SHARDS, parseShardConfig, shardCountFor, shardForNewHandle, shardObjectName, shardOfHandle } from "../../src/ledger/shards.js";

const workerEnv = env as unknown as WorkerEnv;

describe("shard configuration", () => {
  it("defaults to one shard; LEDGER_SHARDS and per-tenant overrides set the count", () => {
    const none = parseShardConfig(undefined, undefined, undefined);
    expect(shardCountFor(none, "acme")).toBe(1);
    const set = parseShardConfig("8", `{"big": 64, "small": 1}`, `{"1": "weur", "2": "apac"}`);
    expect([shardCountFor(set, "acme"), shardCountFor(set, "big"), shardCountFor(set, "small")]).toEqual([8, 64, 1]);
    expect(set.locations).toEqual({ 1: "weur", 2: "apac" });
  });

  it("refuses bad values at start, saying which setting and why", () => {
    const bad: Array<[Partial<WorkerEnv>, string]> = [
      [{ LEDGER_SHARDS: "0" }, `LEDGER_SHARDS must be an integer from 1 to ${MAX_LEDGER_SHARDS}, got "0"`],
      [{ LEDGER_SHARDS: "65" }, `LEDGER_SHARDS must be an integer from 1 to ${MAX_LEDGER_SHARDS}, got "65"`],
      [{ LEDGER_SHARDS: "2.5" }, `LEDGER_SHARDS must be an integer from 1 to ${MAX_LEDGER_SHARDS}, got "2.5"`],
      [{ LEDGER_SHARDS_BY_TENANT: `{"acme": 0}` }, `LEDGER_SHARDS_BY_TENANT["acme"] must be an integer from 1 to ${MAX_LEDGER_SHARDS}, got 0`],
      [{ LEDGER_SHARDS_BY_TENANT: `{"acme": "4"}` }, `LEDGER_SHARDS_BY_TENANT["acme"] must be an integer from 1 to ${MAX_LEDGER_SHARDS}, got "4"`],
      [{ LEDGER_SHARDS_BY_TENANT: `[4]` }, `LEDGER_SHARDS_BY_TENANT must be a JSON object such as {"acme": 4}`],
      [{ LEDGER_SHARDS_BY_TENANT: `acme=4` }, `LEDGER_SHARDS_BY_TENANT must be a JSON object such as {"acme": 4}, got "acme=4"`],
      [{ LEDGER_SHARD_LOCATIONS: `{"1": "mars"}` }, `LEDGER_SHARD_LOCATIONS[1] must be one of wnam, enam, sam, weur, eeur, apac, oc, afr, me, got "mars"`],
      [{ LEDGER_SHARD_LOCATIONS: `{"64": "weur"}` }, `LEDGER_SHARD_LOCATIONS keys must be shard indexes 0-63, got "64"`],
    ];
    for (const [overrides, message] of bad) {
      const parse = () => parseConfig({ ...workerEnv, LEDGER_SHARDS: undefined, LEDGER_SHARDS_BY_TENANT: undefined, ...overrides } as WorkerEnv);
      expect(parse, message).toThrow(ConfigError);
      expect(parse, message).toThrow(message);
    }
  });

  it("names shard 0 as the single object before sharding, and no tenant's shard 0 as another's shard k", () => {
    expect(shardObjectName("acme", 0)).toBe("tenant:acme");
    expect(shardObjectName("acme", 3)).toBe("tenant:acme#shard:3");
  });

  it("reads the shard a handle names (absent: 0) and refuses one beyond its tenant's count", () => {
    const config = parseShardConfig("1", `{"acme": 4}`, undefined);
    expect(shardOfHandle(config, { tenant: "acme" })).toBe(0);
    expect(shardOfHandle(config, { tenant: "acme", shd: 3 })).toBe(3);
    expect(shardOfHandle(config, { tenant: "acme", shd: 4 })).toBeUndefined();
    expect(shardOfHandle(config, { tenant: "other", shd: 1 })).toBeUndefined();
  });

  it("spreads new handles evenly, and over the shards placed in the caller's region when there are any", () => {
    const config = parseShardConfig("1", `{"acme": 4}`, `{"1": "weur", "3": "weur", "2": "apac"}`);
    const picks = Array.from({ length: 400 }, () => shardForNewHandle(config, "acme", undefined));
    expect([0, 1, 2, 3].map((shard) => picks.filter((p) => p === shard).length)).toEqual([100, 100, 100, 100]);
    const european = Array.from({ length: 40 }, () => shardForNewHandle(config, "acme", "weur"));
    expect(new Set(european)).toEqual(new Set([1, 3]));
    expect(new Set(Array.from({ length: 8 }, () => shardForNewHandle(config, "acme", "apac")))).toEqual(new Set([2]));
    // No shard placed in the caller's region: all of them.
    expect(new Set(Array.from({ length: 40 }, () => shardForNewHandle(config, "acme", "oc")))).toEqual(new Set([0, 1, 2, 3]));
  });
});

describe("placement from request.cf", () => {
  it("maps continent, country and longitude to the nearest Durable Object location hint", () => {
    const cases: Array<[Parameters<typeof locationHintFor>[0], string | undefined]> = [
      [{ continent: "NA", longitude: "-122.4" }, "wnam"],
      [{ continent: "NA", longitude: "-74.0" }, "enam"],
      [{ continent: "NA" }, "enam"],
      [{ continent: "SA", longitude: "-46.6" }, "sam"],
      [{ continent: "EU", longitude: "2.35" }, "weur"],
      [{ continent: "EU", longitude: "21.0" }, "eeur"],
      [{ continent: "AS", country: "JP" }, "apac"],
      [{ continent: "AS", country: "AE" }, "me"],
      [{ continent: "OC", country: "AU" }, "oc"],
      [{ continent: "AF", country: "ZA" }, "afr"],
      [{ continent: "AN" }, undefined],
      [{}, undefined],
      [undefined, undefined],
    ];
    for (const [cf, hint] of cases) expect(locationHintFor(cf), JSON.stringify(cf)).toBe(hint);
  });

  it("gets a shard's stub with its configured location, else the caller's region", () => {
    const requested: Array<{ name: string; options: unknown }> = [];
    const namespace = workerEnv.TASK_LEDGER;
    const names = new Map<string, string>();
    const recording = {
      idFromName: (name: string) => {
        const id = namespace.idFromName(name);
        names.set(id.toString(), name);
        return id;
      },
      get: (id: DurableObjectId, options?: unknown) => {
        requested.push({ name: names.get(id.toString())!, options });
        return namespace.get(id);
      },
    };
    const placed = { ...workerEnv, TASK_LEDGER: recording, LEDGER_SHARD_LOCATIONS: `{"1": "weur"}` } as unknown as WorkerEnv;
    shardLedger(placed, "acme", 1, "apac");
    shardLedger(placed, "acme", 2, "apac");
    shardLedger(placed, "acme", 3);
    expect(requested).toEqual([
      { name: "tenant:acme#shard:1", options: { locationHint: "weur" } },
      { name: "tenant:acme#shard:2", options: { locationHint: "apac" } },
      { name: "tenant:acme#shard:3", options: undefined },
    ]);
  });
});
