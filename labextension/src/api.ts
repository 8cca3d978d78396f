// Calls to the server extension under /nbmlops/; ServerConnection adds the token and the XSRF header.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly cell: number | null = null
  ) {
    super(message);
  }
}

export function apiUrl(...parts: string[]): string {
  return URLExt.join(ServerConnection.makeSettings().baseUrl, 'nbmlops', ...parts);
}

export async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const response = await ServerConnection.makeRequest(apiUrl(path), init, settings);
  const text = await response.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text };
  }
  if (!response.ok) {
    throw new ApiError(data?.message ?? response.statusText, data?.cell ?? null);
  }
  return data as T;
}

export function post<T>(path: string, body: unknown): Promise<T> {
  return request<T>(path, { method: 'POST', body: JSON.stringify(body) });
}

/** A query string of `?path=...` plus repeated keys (`where` may be given several times). */
export function query(path: string, extra: Record<string, string | number | string[]> = {}): string {
  const parts = [`path=${encodeURIComponent(path)}`];
  for (const [k, v] of Object.entries(extra)) {
    for (const item of Array.isArray(v) ? v : [v]) {
      parts.push(`${k}=${encodeURIComponent(String(item))}`);
    }
  }
  return '?' + parts.join('&');
}

export interface IStep {
  name: string;
  cells: { index: number; kind: string }[];
  inputs: Record<string, string>;
  outputs: string[];
  upstream: string[];
  options: Record<string, unknown>;
  params: string[];
}

export interface ISpec {
  name: string;
  parameters: { name: string; default: unknown; type: string; cell: number }[];
  setup: { index: number; kind: string }[];
  steps: IStep[];
  warnings: string[];
}

export interface IJobStep {
  name: string;
  status: string;
  seconds?: number;
  detail?: string;
}

export interface IJob {
  id: string;
  status: string;
  run_id: string | null;
  steps: IJobStep[];
  error: { message: string; step?: string; cell?: number | null; line?: number | null } | null;
  artifacts: Record<string, Record<string, string>>;
  sweep: { points?: number; children?: string[]; best?: string | null; parent?: string } | null;
}

export interface IRunRow {
  id: string;
  status: string;
  started_at: number;
  duration: number | null;
  backend: string | null;
  params: Record<string, unknown>;
  metrics: Record<string, number | null>;
  tags: Record<string, string>;
  error: string | null;
  parent_run_id: string | null;
}

export interface IRunStep {
  name: string;
  status: string;
  cells: number[];
  duration: number | null;
  attempts: number | null;
  cached: boolean;
  why: string;
  stdout: string;
  stderr: string;
  error: { message: string | null; cell: number | null; line: number | null; traceback: string | null } | null;
  inputs: Record<string, string>;
  outputs: { name: string; sha256: string; type?: string; size?: number }[];
  notebook: boolean;
}

export interface IRunDetail {
  run: IRunRow;
  steps: IRunStep[];
  metric_history: Record<string, { value: number | null; step: number | null; timestamp: number }[]>;
  artifacts: { name: string; sha256: string; size: number; step: string | null }[];
  children: string[];
  job: string | null;
}

export interface IModel {
  name: string;
  latest_version: number | null;
  aliases: Record<string, number>;
  version_list: {
    version: number;
    created_at: number;
    run_id: string | null;
    model_type: string | null;
    metrics: Record<string, number | null>;
    aliases: string[];
  }[];
}

export interface IFeatureSet {
  name: string;
  version: number;
  versions: number[];
  entities: string[];
  timestamp: string;
  rows: number;
  freshness_s: number | null;
  online_entities: number;
  features: { name: string; kind: string; dtype: string | null; stats: Record<string, unknown> | null }[];
}

export interface ISchedule {
  name: string;
  notebook: string;
  cron: string;
  timezone: string;
  paused: boolean;
  next_at: string | number | null;
  last: { at: string | number; run_id: string | null; status: string } | null;
  backend: string;
  params: Record<string, unknown>;
  retries: number;
  catchup: string;
  last_error: string | null;
}
