import { fileTypeFromBuffer } from 'file-type';

/** Names the browser would render or run when opened inline: always sent as bytes. */
const ACTIVE = /^(text\/html|application\/xhtml\+xml|image\/svg\+xml|application\/xml|text\/xml)\b|\+xml$/;

export const OCTET_STREAM = 'application/octet-stream';

/** What a download is sent as: the detected type, except markup a browser would interpret. */
export const servedType = (contentType: string) => (ACTIVE.test(contentType) ? OCTET_STREAM : contentType);

const MARKUP: ReadonlyArray<[RegExp, string]> = [
  [/^<\?xml[\s\S]*<svg[\s>]/i, 'image/svg+xml'],
  [/^<svg[\s>]/i, 'image/svg+xml'],
  [/^<\?xml/i, 'application/xml'],
  [
    /^(<!--[\s\S]*?-->\s*)*<(!doctype html|html|head|body|script|iframe|div|p|a|img|meta|style|title)[\s>]/i,
    'text/html',
  ],
];

/**
 * The content type from the bytes themselves (file-type's signatures), never from the client.
 * Text that is valid UTF-8 without control characters is text/plain, or the markup type it starts
 * as (HTML, SVG, XML), so that the download can refuse to send it as such.
 */
export async function detectContentType(head: Buffer): Promise<string> {
  const detected = await fileTypeFromBuffer(head);
  // file-type names every XML document application/xml, SVG included: that one is told apart below.
  if (detected !== undefined && detected.mime !== 'application/xml') return detected.mime;
  const text = decodeText(head);
  if (text === undefined) return OCTET_STREAM;
  const start = text.replace(/^\uFEFF?\s*/, '');
  return MARKUP.find(([pattern]) => pattern.test(start))?.[1] ?? 'text/plain';
}

function decodeText(head: Buffer): string | undefined {
  // The head may end inside a multi-byte character: drop up to three bytes of an incomplete one.
  for (let cut = 0; cut <= 3 && cut < head.length + 1; cut++) {
    try {
      const text = new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, head.length - cut));
      // Tabs, newlines and form feeds are text; other control characters are a binary file's.
      return hasBinaryControl(text) ? undefined : text;
    } catch {
      // not UTF-8 up to here
    }
  }
  return undefined;
}

/** C0 controls but tab, newline, vertical tab, form feed and carriage return (9–13), and DEL. */
function hasBinaryControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 32 && (code < 9 || code > 13)) || code === 127) return true;
  }
  return false;
}

const MAX_FILENAME_BYTES = 255;

/**
 * The filename as stored and sent back: its last path segment (a client's `C:\dir\a.txt` or
 * `../a.txt` is `a.txt`), control and bidirectional-override characters removed, Unicode kept,
 * cut to 255 bytes of UTF-8 on a character boundary keeping the extension where it fits.
 */
export function cleanFilename(given: string): string {
  const base = given.split(/[/\\]/).pop() ?? '';
  const cleaned = base
    .normalize('NFC')
    .replace(/[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, '')
    .trim()
    .replace(/^\.+$/, '');
  const name = cleaned === '' ? 'file' : cleaned;
  if (Buffer.byteLength(name) <= MAX_FILENAME_BYTES) return name;
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  return (
    truncateUtf8(name.slice(0, name.length - extension.length), MAX_FILENAME_BYTES - Buffer.byteLength(extension)) +
    extension
  );
}

function truncateUtf8(text: string, bytes: number): string {
  let out = '';
  let used = 0;
  for (const character of text) {
    const size = Buffer.byteLength(character);
    if (used + size > bytes) break;
    out += character;
    used += size;
  }
  return out;
}

/** RFC 6266: an ASCII fallback and the exact name as RFC 5987 `filename*`. */
export function contentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
