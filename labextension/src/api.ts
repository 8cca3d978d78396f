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
}

export interface IRunRow {
  id: string;
  status: string;
  started_at: number;
  duration: number | null;
  backend: string | null;
  params: Record<string, unknown>;
  metrics: Record<string, number>;
  error: string | null;
}
