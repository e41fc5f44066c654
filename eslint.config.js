import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  {
    ignores: ["build/", "dist/", "node_modules/", "wasm/", "test-results/", "playwright-report/"],
  },
  tseslint.configs.recommended,
);
