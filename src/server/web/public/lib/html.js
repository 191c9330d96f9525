// One place that binds htm to Preact, so pages import everything UI from here.
import { h, render, Fragment } from '/console/vendor/preact.mjs';
import htm from '/console/vendor/htm.mjs';

export const html = htm.bind(h);
export { h, render, Fragment };
export { useState, useEffect, useRef, useMemo, useCallback, useLayoutEffect } from '/console/vendor/hooks.mjs';
export { signal, computed, effect, batch, useSignal, useComputed } from '/console/vendor/signals.mjs';
