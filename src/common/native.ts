/**
 * True when ws will mask/unmask with the bufferutil native addon rather than its JS loop.
 * bufferutil silently falls back to JS when its addon does not load (npm 11 skips install
 * scripts unless approved), so check the addon itself.
 */
export function nativeBufferUtilLoaded(): boolean {
  if (process.env.WS_NO_BUFFER_UTIL) return false;
  try {
    const dir = require('node:path').dirname(require.resolve('bufferutil'));
    require('node-gyp-build')(dir);
    return true;
  } catch {
    return false;
  }
}
