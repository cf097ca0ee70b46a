import { Module } from '@nestjs/common';
import { loadConfig } from './config.loader';
import { GatewayConfig } from './gateway.config';

export interface BootConfig {
  config: GatewayConfig;
  /** warnings worth a log line (development defaults in use, deprecated names) */
  notes: string[];
  /** the config file read, if any */
  file?: string;
}

let booted: BootConfig | undefined;

/**
 * Loads and validates the configuration once per process: `GATEWAY_*` variables over
 * `config/config.yaml` over the defaults. Throws ConfigError listing every problem at once;
 * main.ts calls it first, so a bad configuration exits (code 2) before anything starts.
 */
export function bootConfig(): BootConfig {
  if (!booted) {
    const loaded = loadConfig({ env: process.env });
    booted = { config: GatewayConfig.from(loaded.config), notes: loaded.notes, file: loaded.file };
  }
  return booted;
}

/**
 * The one typed configuration (`GatewayConfig`), for every part that needs it. Tests bind their
 * own with `overrideProvider(GatewayConfig)`.
 */
@Module({
  providers: [{ provide: GatewayConfig, useFactory: () => bootConfig().config }],
  exports: [GatewayConfig],
})
export class ConfigModule {}
