/**
 * Placement of ledger shards: the Durable Object location hint nearest to a request, from the
 * `request.cf` Cloudflare attaches (continent, country, longitude). A hint only steers where an
 * object is created the first time; an existing object never moves (docs/architecture.md, "Shards").
 */
/** The hints Cloudflare documents for Durable Objects. */
export const LOCATION_HINTS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"] as const satisfies readonly DurableObjectLocationHint[];

/** What placement reads of `request.cf` (every field may be absent, e.g. in local development). */
export interface RequestRegion {
  continent?: string | undefined;
  country?: string | undefined;
  longitude?: string | undefined;
}

/** Countries Cloudflare reports under continent AS that the Middle East hint serves better than apac. */
const MIDDLE_EAST = new Set(["AE", "BH", "IL", "IQ", "IR", "JO", "KW", "LB", "OM", "PS", "QA", "SA", "SY", "YE"]);

/** West of this longitude a North American caller is nearer the west coast (wnam) than the east (enam). */
const NORTH_AMERICA_SPLIT = -100;
/** East of this longitude a European caller is nearer eastern Europe (eeur). */
const EUROPE_SPLIT = 20;

/** The location hint for a request from `region`; undefined when `request.cf` says nothing usable. */
export function locationHintFor(region: RequestRegion | undefined): DurableObjectLocationHint | undefined {
  const longitude = region?.longitude === undefined ? Number.NaN : Number(region.longitude);
  switch (region?.continent) {
    case "NA":
      return Number.isFinite(longitude) && longitude < NORTH_AMERICA_SPLIT ? "wnam" : "enam";
    case "SA":
      return "sam";
    case "EU":
      return Number.isFinite(longitude) && longitude > EUROPE_SPLIT ? "eeur" : "weur";
    case "AS":
      return region.country !== undefined && MIDDLE_EAST.has(region.country) ? "me" : "apac";
    case "OC":
      return "oc";
    case "AF":
      return "afr";
    default:
      return undefined;
  }
}
