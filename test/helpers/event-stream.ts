// Reads a Server-Sent Events reply the way Runware's TypeScript SDK does (line by line: `data:`
// JSON chunks holding delta.text, finishReason, usage, …; `data: [DONE]` ends it; a chunk with
// `errors` ends it as an error), keeping every chunk for assertions.

export interface StreamRead {
  status: number;
  contentType: string | null;
  chunks: Record<string, unknown>[];
  text: string;
  done: boolean;
  errors: Record<string, unknown>[] | undefined;
  /** The body when the reply was not an event stream (a JSON error reply). */
  body: string | undefined;
}

export async function postStream(
  url: string,
  key: string,
  tasks: unknown[],
  onChunk?: (chunk: Record<string, unknown>) => void,
  signal?: AbortSignal,
): Promise<StreamRead> {
  const res = await fetch(`${url}/v1`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(tasks),
    ...(signal ? { signal } : {}),
  });
  const out: StreamRead = {
    status: res.status,
    contentType: res.headers.get('content-type'),
    chunks: [],
    text: '',
    done: false,
    errors: undefined,
    body: undefined,
  };
  if (!out.contentType?.startsWith('text/event-stream')) {
    out.body = await res.text();
    return out;
  }
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line.startsWith('data:')) continue;
      const payload = line.slice(5).trim();
      if (payload === '[DONE]') {
        out.done = true;
        continue;
      }
      const chunk = JSON.parse(payload) as Record<string, unknown>;
      if (Array.isArray(chunk['errors'])) {
        out.errors = chunk['errors'] as Record<string, unknown>[];
        continue;
      }
      out.chunks.push(chunk);
      const delta = chunk['delta'] as { text?: string } | undefined;
      if (delta?.text) out.text += delta.text;
      onChunk?.(chunk);
    }
  }
  return out;
}
