/**
 * The shared shape of the SDK sample workflows (test/sdk-samples.test.ts): one `Workflow` per file
 * of Google's Node SDK samples (googleapis/nodejs-bigquery `samples/`, named by its file name),
 * written by us with the same SDK calls against the demo project's data instead of
 * bigquery-public-data, and the `Scope` a run gets: the caller's real `@google-cloud/bigquery`
 * client through the gateway, the administrator's (for setup), and the objects the sample calls
 * "existing" — for the administrator a fresh dataset seeded before the run, for the demo analyst the
 * shop dataset's own objects (so its reads pass and its writes are decided on real tables).
 */
import type { BigQuery, BigQueryOptions } from '@google-cloud/bigquery';

export type Who = 'admin' | 'analyst';

/** A `gs://` stand-in: the embedded emulator's bucket root (`<dataDir>/gcs/<bucket>/<object>`). */
export interface Gcs {
  /** `@google-cloud/storage`'s `File` of `gs://bucket/name` (the SDK's extract/load take only those); constructing it contacts nothing. */
  file(bucket: string, name: string): unknown;
  /** The local path of `gs://bucket/name` under the emulator's bucket root. */
  path(bucket: string, name: string): string;
}

export interface Scope {
  who: Who;
  /** The caller's SDK client through the gateway (explicit authClient, no retries). */
  bq: BigQuery;
  /** The administrator's client through the gateway (setup only). */
  admin: BigQuery;
  /** A client of the caller built with extra options (userAgent, apiEndpoint, defaultJobCreationMode). */
  client(opts: BigQueryOptions): BigQuery;
  /** The gateway's base URL (a sample that sets apiEndpoint). */
  url: string;
  /** The dataset the sample works in: admin a fresh one (created before the run), analyst `shop`. */
  ds: string;
  /** An existing table with rows (order_id, customer_id, amount, status): admin seeded, analyst `orders`. */
  table: string;
  /** An existing table of the samples' Name/Age/Weight/IsMagic schema (admin seeded), analyst `orders`. */
  people: string;
  /** An existing view: admin seeded over shop.orders, analyst `customer_contacts`. */
  view: string;
  /** An existing SQL routine: admin seeded, analyst `total_spent`. */
  routine: string;
  /** A name no object in `ds` has yet (unique per call). */
  fresh(prefix: string): string;
  /** A local directory for the run's files. */
  work: string;
  /** The emulator's gs:// (undefined when `@google-cloud/storage` is not installed). */
  gcs?: Gcs;
  /** The bucket the caller may extract to (admin: gs://admin-exports, per the test-only policy). */
  exportBucket: string;
}

/** What the administrator's run of a workflow needs that the embedded emulator lacks. */
export type Needs = 'cloud-storage' | 'ml' | 'storage-client';

export interface Workflow {
  /** The sample's file name in googleapis/nodejs-bigquery `samples/`. */
  sample: string;
  /** The administrator's run needs real Cloud Storage or real ML: listed as skipped with `why`. */
  needs?: { what: Needs; why: string };
  /** The demo analyst's expected outcome: passes, or refused with accessDenied naming the rule or the verb. */
  demo: 'pass' | 'deny';
  /**
   * bqgate refuses this workflow for every principal by design (fail closed): the refusal must
   * match; counted as "refused" (e.g. legacy SQL, which bqgate cannot analyze).
   */
  refused?: RegExp;
  /**
   * A bug found by this suite and not fixed yet: the administrator's run is expected to fail
   * (`it.fails`, so a fix turns it red until this is removed) and is reported with this text.
   */
  knownBug?: string;
  /** What the administrator's fresh dataset must hold before the run. */
  seed?: Array<'table' | 'people' | 'view' | 'routine'>;
  run(s: Scope): Promise<void>;
}

/** A backquoted full table name in the demo project. */
export const q = (ds: string, t: string) => `\`demo-project.${ds}.${t}\``;

/** The people rows the table samples write, shaped for `s.people` (admin) or for shop.orders (analyst). */
export const peopleRows = (s: Scope) => (s.who === 'admin'
  ? [{ Name: 'Tom', Age: 30, Weight: 70.5, IsMagic: false }, { Name: 'Jane', Age: 32, Weight: 60.25, IsMagic: true }]
  : [{ order_id: 990001, customer_id: 1, amount: 1.5, status: 'paid' }]);

/** The people schema of the table samples (createTable.js). */
export const PEOPLE_SCHEMA = [
  { name: 'Name', type: 'STRING', mode: 'REQUIRED' },
  { name: 'Age', type: 'INTEGER' },
  { name: 'Weight', type: 'FLOAT' },
  { name: 'IsMagic', type: 'BOOLEAN' },
];
