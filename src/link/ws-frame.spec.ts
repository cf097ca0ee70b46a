import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { wsFrame } from './ws-frame';
import { receiveMessages as receive } from './ws-frame.testing';

describe('wsFrame', () => {
  it('frames text and binary payloads of every length class so a real receiver reads them back', () => {
    for (const length of [0, 1, 125, 126, 127, 65535, 65536, 70000]) {
      const text = 'é'.repeat(Math.floor(length / 2)) + 'x'.repeat(length % 2);
      const bytes = Buffer.alloc(length, 7);
      const [t, b] = receive([wsFrame(text, false), wsFrame(bytes, true)]);
      assert.equal(t.binary, false, `text ${length}`);
      assert.equal(t.data.toString('utf8'), text, `text ${length}`);
      assert.equal(b.binary, true, `binary ${length}`);
      assert.ok(b.data.equals(bytes), `binary ${length}`);
    }
  });

  it('uses the shortest length encoding', () => {
    assert.equal(wsFrame('x'.repeat(125), false).length, 127);
    assert.equal(wsFrame('x'.repeat(126), false).length, 130);
    assert.equal(wsFrame('x'.repeat(65536), false).length, 65546);
  });
});
