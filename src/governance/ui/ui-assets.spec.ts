import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { UiAssets } from './ui-assets';

describe('UiAssets: the admin UI files as HTTP answers', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ui-assets-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('says the UI is not built (500, naming the build step) when the bundle is missing, for the page; 404 for an asset', async () => {
    const assets = new UiAssets({ dir: path.join(dir, 'nothing-here') });
    const page = await assets.answer('');
    assert.equal(page.status, 500);
    assert.match(String(page.body), /admin UI not built: .*index\.html is missing \(run `node scripts\/bundle\.js`/);
    const asset = await assets.answer('app-X.js');
    assert.equal(asset.status, 404);
  });

  it('puts the mount in the page as its base and keeps every answer inside the bundle directory', async () => {
    fs.writeFileSync(path.join(dir, 'index.html'), '<html><head><base href="/" /></head></html>');
    fs.writeFileSync(path.join(dir, 'app-A.css'), 'a{}');
    fs.writeFileSync(path.join(path.dirname(dir), `${path.basename(dir)}-secret.txt`), 'secret');
    const atRoot = new UiAssets({ dir, mount: '/' });
    assert.match(String((await atRoot.answer('')).body), /<base href="\/" \/>/);
    const atUi = new UiAssets({ dir, mount: '/ui' });
    assert.match(String((await atUi.answer('index.html')).body), /<base href="\/ui\/" \/>/);
    const css = await atUi.answer('app-A.css');
    assert.deepEqual([css.status, css.headers['content-type']], [200, 'text/css; charset=utf-8']);
    for (const bad of ['../' + `${path.basename(dir)}-secret.txt`, '%2e%2e%2f' + `${path.basename(dir)}-secret.txt`, 'a%00b']) {
      const r = await atUi.answer(bad);
      assert.equal(r.status, 404, bad);
    }
    assert.equal((await atUi.answer('%E0%A4%A')).status, 400);
    fs.rmSync(path.join(path.dirname(dir), `${path.basename(dir)}-secret.txt`));
  });
});
