// Settings of the engines an operator brings (an OpenAI-compatible server, a ComfyUI): where it
// is, its key, the models it serves under which AIRs, and the same remote-call policy settings
// as the upstream engine's. Read from RUNTRAIL_OPENAI_* and RUNTRAIL_COMFYUI_* (README
// configuration table, docs/engines.md).

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SETTINGS, type SettingName } from '../../settings.js';
import type { RemoteCallOptions } from './remote-caller.js';

/** A setting as given (flag or environment), undefined when unset. */
type RawSetting = (name: SettingName) => string | undefined;

/** One model an operator engine serves: the AIR tasks name it by, and what the engine calls it. */
export interface OperatorModel {
  /** The AIR callers name (`source:id@version`), chosen by the operator after the network that runs. */
  air: string;
  /** The engine's own name for it (OpenAI `model`); for ComfyUI, unused. */
  model: string;
  name: string;
  taskTypes: string[];
  /** Runware AIRs (or `*`) this model runs for, by task type. */
  standsInFor: { taskType: string; model: string }[];
  /** ComfyUI: the workflow file (API format JSON with placeholders), read at start. */
  workflow?: string;
  /** ComfyUI: the workflow file's path, for messages. */
  workflowPath?: string;
}

export interface OperatorEngineConfig extends RemoteCallOptions {
  /** Base URL: `http://127.0.0.1:11434/v1` (OpenAI-compatible) or `http://127.0.0.1:8188` (ComfyUI). */
  url: string;
  /** Sent as `Authorization: Bearer` when set; never logged, recorded or shown. */
  apiKey: string | undefined;
  models: OperatorModel[];
  /** ComfyUI: how often /history is polled, and how long one workflow may run. */
  pollMs: number;
  jobTimeoutMs: number;
}

export class OperatorConfigError extends Error {}

const AIR = /^[A-Za-z0-9_-]+:[A-Za-z0-9._-]+@[A-Za-z0-9._-]+$/;

/** RUNTRAIL_<PREFIX>_URL and the rest, or undefined when the engine is not configured. */
export function operatorEngineConfig(
  raw: RawSetting,
  prefix: 'OPENAI' | 'COMFYUI',
  taskTypes: readonly string[],
): OperatorEngineConfig | undefined {
  // Every name built here is a row of the settings table (src/settings.ts), defaults included.
  const name = (s: string) => `RUNTRAIL_${prefix}_${s}` as SettingName;
  const url = raw(name('URL'));
  const modelsRaw = raw(name('MODELS'));
  if (url === undefined && modelsRaw === undefined) return undefined;
  if (url === undefined || modelsRaw === undefined)
    throw new OperatorConfigError(`${name('URL')} and ${name('MODELS')} are set together`);
  if (!/^https?:\/\//.test(url)) throw new OperatorConfigError(`${name('URL')} must be an http(s) URL`);
  const n = (setting: string, min: number): number => {
    const key = name(setting);
    const given = raw(key) ?? (SETTINGS[key] as { default?: string }).default ?? '';
    if (!/^\d+$/.test(given) || Number(given) < min)
      throw new OperatorConfigError(`${key} must be a whole number of at least ${min}, got "${given}"`);
    return Number(given);
  };
  return {
    url: url.replace(/\/+$/, ''),
    apiKey: raw(name('API_KEY')),
    models: readModels(modelsRaw, name('MODELS'), taskTypes, prefix === 'COMFYUI'),
    timeoutMs: n('TIMEOUT_MS', 1),
    retries: n('RETRIES', 0),
    retryBackoffMs: n('RETRY_BACKOFF_MS', 0),
    breakerFailures: n('BREAKER_FAILURES', 1),
    breakerCooldownMs: n('BREAKER_COOLDOWN_MS', 0),
    // ComfyUI alone polls; the OpenAI-compatible engine has no such settings.
    pollMs: prefix === 'COMFYUI' ? n('POLL_MS', 1) : 0,
    jobTimeoutMs: prefix === 'COMFYUI' ? n('JOB_TIMEOUT_MS', 1) : 0,
  };
}

function readModels(raw: string, setting: string, allowed: readonly string[], needsWorkflow: boolean): OperatorModel[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.trimStart().startsWith('[') ? raw : readFileSync(raw, 'utf8'));
  } catch (err) {
    throw new OperatorConfigError(
      `${setting} must be a JSON array or the path of a JSON file holding one (${(err as Error).message})`,
    );
  }
  if (!Array.isArray(parsed) || parsed.length === 0)
    throw new OperatorConfigError(`${setting} must be a non-empty JSON array of models`);
  return parsed.map((entry: unknown, i) => {
    const bad = (what: string): never => {
      throw new OperatorConfigError(`${setting} entry ${i}: ${what}`);
    };
    if (typeof entry !== 'object' || entry === null) return bad('must be an object');
    const e = entry as Record<string, unknown>;
    const air = e['air'];
    if (typeof air !== 'string' || !AIR.test(air)) return bad("'air' must be an AIR, 'source:id@version'");
    if (air.toLowerCase().startsWith('runtrail:') || air.toLowerCase().startsWith('runware:')) {
      bad(
        "'air' must not use the runtrail: or runware: source (name it after what really runs, e.g. 'ollama:llama3.2@3b')",
      );
    }
    const taskTypes = e['taskTypes'];
    if (
      !Array.isArray(taskTypes) ||
      taskTypes.length === 0 ||
      taskTypes.some((t) => typeof t !== 'string' || !allowed.includes(t))
    ) {
      bad(`'taskTypes' must list some of ${allowed.join(', ')}`);
    }
    const model = e['model'] ?? air;
    if (typeof model !== 'string' || model === '') bad("'model' must be the engine's name for the model");
    const standsRaw = e['standsInFor'] ?? [];
    if (!Array.isArray(standsRaw) || standsRaw.some((s) => typeof s !== 'string'))
      bad("'standsInFor' must be an array of AIRs (or '*')");
    const standsInFor = (standsRaw as string[]).flatMap((m) =>
      (taskTypes as string[]).map((taskType) => ({ taskType, model: m })),
    );
    const out: OperatorModel = {
      air,
      model: model as string,
      name: typeof e['name'] === 'string' ? e['name'] : `${model as string} (operator engine)`,
      taskTypes: taskTypes as string[],
      standsInFor,
    };
    if (needsWorkflow) {
      const path = e['workflow'];
      if (typeof path !== 'string') return bad("'workflow' must be the path of a ComfyUI workflow file (API format)");
      try {
        out.workflow = readFileSync(resolve(path), 'utf8');
        JSON.parse(out.workflow);
      } catch (err) {
        bad(`the workflow file ${path} could not be read as JSON (${(err as Error).message})`);
      }
      out.workflowPath = path;
    }
    return out;
  });
}
