/**
 * HTML to plain text for e-mail bodies, with the `html-to-text` package (loaded on first use):
 * link targets, images, scripts and styles dropped, table cells and blocks separated by breaks.
 *
 * @module
 */

type Converter = (html: string) => string;

let converter: Promise<Converter> | undefined;

/** Returns the shared converter, loading `html-to-text` on first use. */
export function loadHtmlToText(): Promise<Converter> {
  converter ??= import("npm:html-to-text@10.0.1").then((m) =>
    m.compile({
      wordwrap: false,
      selectors: [
        { selector: "a", options: { ignoreHref: true } },
        { selector: "img", format: "skip" },
        ...["h1", "h2", "h3", "h4", "h5", "h6"].map((selector) => ({
          selector,
          options: { uppercase: false },
        })),
        { selector: "table", format: "block" },
        { selector: "tr", format: "block" },
        { selector: "td", format: "block" },
        { selector: "th", format: "block" },
      ],
    })
  );
  return converter;
}

const HTML_TAG =
  /<\/?(html|head|body|p|br|div|font|table|tr|td|span|center|b|i|a|img|ul|li)\b[^>]*>/gi;

/** True when a text body is really HTML (two or more common tags), as in many spam mails. */
export function looksLikeHtml(text: string): boolean {
  HTML_TAG.lastIndex = 0;
  return HTML_TAG.test(text) && HTML_TAG.test(text);
}
