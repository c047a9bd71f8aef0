/**
 * Turns a raw RFC 822 / MIME e-mail into the text a reader sees: the decoded subject and body
 * (multipart, quoted-printable, base64 and charsets handled by the `postal-mime` package; HTML
 * turned into text), with whitespace collapsed.
 *
 * @module
 */

import { loadHtmlToText, looksLikeHtml } from "./html.ts";

/** Options of {@linkcode mailToText}. */
export interface MailTextOptions {
  /** Cut the cleaned text to at most this many characters (at a word break). Default 10,000. */
  maxChars?: number;
}

type PostalMimeModule = {
  default: {
    parse(raw: Uint8Array | string): Promise<{
      subject?: string;
      text?: string;
      html?: string;
      attachments: { mimeType: string; filename: string | null; content: ArrayBuffer | string }[];
    }>;
  };
};

let postalMime: Promise<PostalMimeModule> | undefined;

function loadPostalMime(): Promise<PostalMimeModule> {
  postalMime ??= import("npm:postal-mime@4.0.0") as unknown as Promise<PostalMimeModule>;
  return postalMime;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const latin1 = new TextDecoder("windows-1252");

/** Decodes bytes of unknown charset: UTF-8 when valid, else Windows-1252. */
function decodeUnknown(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return latin1.decode(bytes);
  }
}

/**
 * The body of a message whose MIME structure the parser could not follow (a boundary with
 * spaces, a malformed Content-Type): everything after the header block, less boundary lines and
 * part headers.
 */
function rawBody(raw: Uint8Array | string): string {
  const text = typeof raw === "string" ? raw : decodeUnknown(raw);
  const start = text.search(/\r?\n\r?\n/);
  if (start < 0) return "";
  return text.slice(start)
    .split(/\r?\n/)
    .filter((l) => !/^--\S/.test(l) && !/^content-[a-z-]+:/i.test(l))
    .join("\n");
}

/** Returns a decoder for a MIME charset label, or `undefined` when the label is unknown. */
function decoderFor(label: string): TextDecoder | undefined {
  try {
    return new TextDecoder(label);
  } catch {
    return undefined;
  }
}

/**
 * The Subject header when its raw bytes are 8-bit without RFC 2047 encoding (common in 2002-era
 * spam), decoded as UTF-8 when valid, else in the message's first declared charset, else
 * Windows-1252. `undefined` when the header is plain ASCII or encoded (the parser handles those).
 */
function eightBitSubject(raw: Uint8Array): string | undefined {
  let end = raw.findIndex((b, i) => b === 0x0a && (raw[i + 1] === 0x0a || raw[i + 1] === 0x0d));
  if (end < 0) end = raw.length;
  const header = latin1.decode(raw.subarray(0, end)); // one char per byte
  const m = /^Subject:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(header);
  if (!m || !/[\x80-\xff]/.test(m[1]) || m[1].includes("=?")) return undefined;
  const start = m.index + m[0].length - m[1].length;
  const bytes = raw.subarray(start, start + m[1].length);
  try {
    return utf8.decode(bytes).replace(/\r?\n/g, "");
  } catch {
    const charset = /charset\s*=\s*"?([\w.:-]+)/i.exec(latin1.decode(raw))?.[1];
    const decoder = (charset && decoderFor(charset)) || latin1;
    return decoder.decode(bytes).replace(/\r?\n/g, "");
  }
}

const TEXT_ATTACHMENT = /^text\/(plain|html)|\.(html?|txt)$/i;

/** Collapses runs of whitespace (and drops replacement and zero-width characters). */
export function collapseWhitespace(text: string): string {
  return text.replace(/[\uFFFD\u200B-\u200D\uFEFF]/g, "").replace(/\s+/g, " ").trim();
}

/** Cuts text to at most `max` characters, at the last space before the limit when there is one. */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.lastIndexOf(" ", max);
  return text.slice(0, cut > max / 2 ? cut : max);
}

/**
 * Returns `subject + " " + body` of a raw e-mail as one line of readable text.
 *
 * The body is the text/plain part; the HTML part (converted to text) when there is no plain
 * text or the "plain" text is really HTML; failing both, a text or HTML attachment; failing
 * that, the raw body with MIME scaffolding removed.
 */
export async function mailToText(
  raw: Uint8Array | string,
  options: MailTextOptions = {},
): Promise<string> {
  const [{ default: PostalMime }, htmlToText] = await Promise.all([
    loadPostalMime(),
    loadHtmlToText(),
  ]);
  const mail = await PostalMime.parse(raw);
  if (raw instanceof Uint8Array) mail.subject = eightBitSubject(raw) ?? mail.subject;
  const asText = (s: string) => (looksLikeHtml(s) ? htmlToText(s) : s);
  if (mail.text?.trim()) return finish(mail.subject, asText(mail.text), options);
  if (mail.html?.trim()) return finish(mail.subject, htmlToText(mail.html), options);
  const part = mail.attachments.find((a) =>
    TEXT_ATTACHMENT.test(a.mimeType) || TEXT_ATTACHMENT.test(a.filename ?? "")
  );
  if (part) {
    const content = typeof part.content === "string"
      ? part.content
      : decodeUnknown(new Uint8Array(part.content));
    return finish(mail.subject, asText(content), options);
  }
  // Only when the parser found no body at all: its MIME structure was unreadable.
  return finish(mail.subject, mail.text ?? mail.html ?? asText(rawBody(raw)), options);
}

function finish(subject: string | undefined, body: string, options: MailTextOptions): string {
  const text = collapseWhitespace(`${subject ?? ""}\n${body}`);
  return truncateText(text, options.maxChars ?? 10_000);
}
