import type { CompressionSpec } from './request.js';

/** The chat page at `/` (filled in by a later step). */
export function chatPage(modelId: string, _defaults: CompressionSpec | null): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>kvmerger: ${modelId}</title></head><body><h1>kvmerger</h1></body></html>`;
}
