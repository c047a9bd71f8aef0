/**
 * `cli-progress` for the browser build: a terminal progress bar needs Node's `readline`, which a
 * page has not. The Trainer only creates one when its `progress` option asks for it; a page
 * reports progress itself (the example's chart), so this stands in and fails clearly if used.
 *
 * @module
 */

class MultiBar {
  constructor() {
    throw new Error(
      "the terminal progress bar is not available in the browser build; train with progress: false",
    );
  }
}

/** The subset of `cli-progress` the Trainer imports. */
export default { MultiBar, Presets: { shades_classic: {} } };
