import * as ws from 'ws';

/** ws's frame parser (exported by ws at runtime, not declared by @types/ws). */
const { Receiver } = ws as unknown as {
  Receiver: new (options: { isServer: boolean }) => NodeJS.EventEmitter & { write(chunk: Buffer): void };
};

/** For specs: the messages in bytes a server wrote, parsed by ws as a client would. */
export function receiveMessages(chunks: Buffer[]): { data: Buffer; binary: boolean }[] {
  const got: { data: Buffer; binary: boolean }[] = [];
  const receiver = new Receiver({ isServer: false });
  receiver.on('message', (data: Buffer, binary: boolean) => got.push({ data, binary }));
  receiver.on('error', (err: Error) => {
    throw err;
  });
  for (const c of chunks) receiver.write(c);
  return got;
}
