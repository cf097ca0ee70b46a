import { Codec, CodecName, CODEC_NAMES } from './codec';
import { JsonCodec } from './json.codec';
import { ProtobufCodec } from './protobuf.codec';

/** The codecs a link may use, chosen per connection; stateless, so shared by every link. */
export class CodecRegistry {
  private readonly codecs: Record<CodecName, Codec> = { json: new JsonCodec(), protobuf: new ProtobufCodec() };

  constructor(readonly defaultName: CodecName) {}

  get(name: CodecName): Codec {
    return this.codecs[name];
  }

  /** Subprotocol `gateway.json` / `gateway.protobuf` wins over `?codec=`, which wins over the default. */
  select(subprotocols: ReadonlySet<string>, query: string | null): { codec: Codec; protocol?: string } {
    for (const name of CODEC_NAMES) {
      const protocol = `gateway.${name}`;
      if (subprotocols.has(protocol)) return { codec: this.codecs[name], protocol };
    }
    if (query && (CODEC_NAMES as readonly string[]).includes(query)) return { codec: this.codecs[query as CodecName] };
    return { codec: this.codecs[this.defaultName] };
  }
}
