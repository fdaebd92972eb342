// eSpeak NG, the text-to-speech program the speech operation runs (Debian package `espeak-ng`,
// optional: without it speech reports not ready). Its voices are its languages (`en-us`, `fr`,
// …) and variants (`Annie`, `f3`, …) in the forms `<language>`, `<language>+<variant>` or
// `<variant>` alone (spoken as American English); names are matched in any case.

import { spawnSync } from 'node:child_process';
import { onPath } from './program-lookup.js';
import { renderMessage, templateOf } from '../../../protocol/errors.js';

export interface EspeakFound {
  ok: true;
  path: string;
  version: string;
  /** Lower-cased language or alias → the spelling espeak-ng takes. */
  languages: ReadonlyMap<string, string>;
  /** Lower-cased variant → its file name. */
  variants: ReadonlyMap<string, string>;
}

export type EspeakLookup = EspeakFound | { ok: false; reason: string };

export const DEFAULT_LANGUAGE = 'en-us';

let found: EspeakLookup | undefined;

export function espeak(): EspeakLookup {
  found ??= lookup();
  return found;
}

/** The `-v` argument for a caller's voice name, or undefined when espeak-ng has no such voice. */
export function voiceArgument(e: EspeakFound, voice: string | undefined): string | undefined {
  if (voice === undefined || voice === '') return DEFAULT_LANGUAGE;
  const [language, variant, ...rest] = voice.toLowerCase().split('+');
  if (rest.length > 0 || language === undefined) return undefined;
  if (variant === undefined) {
    const lang = e.languages.get(language);
    if (lang !== undefined) return lang;
    const alone = e.variants.get(language);
    return alone === undefined ? undefined : `${DEFAULT_LANGUAGE}+${alone}`;
  }
  const lang = e.languages.get(language);
  const v = e.variants.get(variant);
  return lang !== undefined && v !== undefined ? `${lang}+${v}` : undefined;
}

/** The unsupportedVoice message for a voice espeak-ng lacks. */
/** The unsupportedVoice message's parameters (the catalogue in src/protocol/errors.ts words it). */
export function unsupportedVoiceParams(e: EspeakFound, voice: string): { voice: string; examples: string } {
  return { voice: voice.slice(0, 100), examples: sampleVoices(e).slice(0, 7).join(', ') };
}

/** The same message, for the operation (which knows no protocol): written by the catalogue's renderer. */
export function unsupportedVoiceMessage(e: EspeakFound, voice: string): string {
  return renderMessage(templateOf('unsupportedVoice'), unsupportedVoiceParams(e, voice));
}

/** A few voice names to show in an unsupportedVoice message. */
export function sampleVoices(e: EspeakFound): string[] {
  const langs = ['en-us', 'en-gb', 'fr-fr', 'de', 'es', 'it', 'ja'].filter((l) => e.languages.has(l));
  const variants = [...e.variants.values()].slice(0, 4);
  return [...langs, ...variants.map((v) => `en-us+${v}`)];
}

function lookup(): EspeakLookup {
  const path = onPath('espeak-ng');
  if (path === undefined)
    return { ok: false, reason: 'espeak-ng is not installed (Debian: apt-get install espeak-ng)' };
  const voices = spawnSync(path, ['--voices'], { encoding: 'utf8', timeout: 15_000 });
  const variants = spawnSync(path, ['--voices=variant'], { encoding: 'utf8', timeout: 15_000 });
  const version = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 15_000 });
  if (voices.status !== 0 || variants.status !== 0) {
    return {
      ok: false,
      reason: `${path} did not list its voices (${voices.error?.message ?? voices.stderr.trim().slice(0, 200)})`,
    };
  }
  const languages = new Map<string, string>();
  const aliases: { alias: string; code: string; priority: number }[] = [];
  for (const row of rows(voices.stdout)) {
    const code = row[1]!;
    languages.set(code.toLowerCase(), code);
    // "Other Languages" lists aliases with priorities: `(en 2)(en-gb 3)`.
    for (const m of row
      .slice(5)
      .join(' ')
      .matchAll(/\(([A-Za-z0-9-]+) (\d+)\)/g)) {
      aliases.push({ alias: m[1]!.toLowerCase(), code, priority: Number(m[2]) });
    }
  }
  // An alias names the language that lists it with the lowest priority number (`en` → en-gb).
  aliases.sort((a, b) => a.priority - b.priority);
  for (const { alias, code } of aliases) if (!languages.has(alias)) languages.set(alias, code);
  const variantMap = new Map<string, string>();
  for (const row of rows(variants.stdout)) {
    const file = row[4]?.replace(/^!v\//, '');
    if (file) {
      variantMap.set(file.toLowerCase(), file);
      variantMap.set(row[3]!.toLowerCase(), file);
    }
  }
  const versionText = /text-to-speech: (\S+)/.exec(version.stdout)?.[1] ?? 'unknown';
  return { ok: true, path, version: versionText, languages, variants: variantMap };
}

/** The table rows of `espeak-ng --voices`, split on whitespace (the header row left out). */
function rows(text: string): string[][] {
  return text
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length >= 5);
}
