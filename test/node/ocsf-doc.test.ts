import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { OCSF_MAPPING, OCSF_VERSION, toOcsf } from "../../src/siem/ocsf.js";

/** docs/siem.md is the documented shape: its class table must say what the code does. */
const doc = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "../../docs/siem.md"), "utf8");
const CLASS_UIDS = { authorize_session: 3003, entity_management: 3004, api_activity: 6003 } as const;

function documentedRows(): Map<string, { classUid: number; activity: string }> {
  const section = doc.slice(doc.indexOf("## Classes and activities"), doc.indexOf("## Fields common to every event"));
  const rows = new Map<string, { classUid: number; activity: string }>();
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    const match = /^(\d{4}) /.exec(cells[2] ?? "");
    if (match && cells[1]) rows.set(cells[1], { classUid: Number(match[1]), activity: cells[3]! });
  }
  return rows;
}

describe("docs/siem.md against src/siem/ocsf.ts", () => {
  it("documents every audit type with the class and activity the code emits", () => {
    const rows = documentedRows();
    expect([...rows.keys()].sort()).toEqual(Object.keys(OCSF_MAPPING).sort());
    for (const [type, mapping] of Object.entries(OCSF_MAPPING)) {
      const row = rows.get(type)!;
      expect(row.classUid, type).toBe(CLASS_UIDS[mapping.class]);
      if (mapping.activity === "by-operation") expect(row.activity).toMatch(/^by operation/);
      else expect(row.activity, type).toBe(`${mapping.activity[0]} ${mapping.activity[1]}`);
    }
    expect(doc).toContain(`**${OCSF_VERSION}**`);
  });

  it("maps a purge (expired) to Entity Management Delete, which the workerd tests cannot reach within a run", () => {
    const event = { seq: 7, at: 1000, last_at: 1000, count: 1, type: "expired", jti: "j", op: null, client_id: null, subject: null, reason: "purged", detail: '{"task":"t"}', prev_hash: "p", hash: "h" } as const;
    expect(toOcsf(event, "acme")).toMatchObject({ class_uid: 3004, activity_id: 4, activity_name: "Delete", type_uid: 300404, status_id: 1, comment: "purged", entity: { uid: "j", type: "mcp-task-handle", data: { task: "t" } }, metadata: { uid: "acme:7" } });
  });
});
