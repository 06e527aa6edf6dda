import { DynamicModule, Global, Module, Provider } from '@nestjs/common';
import { AppConfig, loadConfig } from './app-config';
import { CONFIG_SECTION_KEYS, CONFIG_SECTION_TOKENS, ConfigSectionName, configSection } from './config-sections';

/** The whole configuration. Only the entry point, bootstrap code and config tests take it; services inject their sections. */
export const APP_CONFIG = Symbol('APP_CONFIG');

@Global()
@Module({})
export class ConfigModule {
  /** `config` is loaded once by the entry point (so a bad value stops the process before Nest starts). */
  static forRoot(config: AppConfig = loadConfig()): DynamicModule {
    const sections: Provider[] = (Object.keys(CONFIG_SECTION_KEYS) as ConfigSectionName[]).map((name) => ({
      provide: CONFIG_SECTION_TOKENS[name],
      useValue: configSection(config, name),
    }));
    const tokens = [APP_CONFIG, ...Object.values(CONFIG_SECTION_TOKENS)];
    return { module: ConfigModule, providers: [{ provide: APP_CONFIG, useValue: config }, ...sections], exports: tokens };
  }
}
