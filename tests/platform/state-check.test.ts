import { describe, expect, it } from "vitest";
import {
  expectBool,
  expectBytes,
  expectInt,
  expectIntArray,
  expectNumber,
  expectObject,
  expectVersion,
} from "../../src/platform/state-check.ts";

const W = "dev";

describe("state-check", () => {
  it("accepts plain objects only", () => {
    const fields = { a: 1 };
    expect(expectObject(fields, W)).toBe(fields);
    for (const bad of [null, undefined, [], 7, "x"]) {
      expect(() => expectObject(bad, W)).toThrow(TypeError);
      expect(() => expectObject(bad, W)).toThrow(/^dev must be an object/);
    }
  });

  it("tells a wrong version type (TypeError) from an unsupported version (RangeError)", () => {
    expect(() => expectVersion({ version: 1 }, 1, W)).not.toThrow();
    expect(() => expectVersion({ version: "1" }, 1, W)).toThrow(TypeError);
    expect(() => expectVersion({}, 1, W)).toThrow(/dev\.version must be a number/);
    expect(() => expectVersion({ version: 2 }, 1, W)).toThrow(RangeError);
    expect(() => expectVersion({ version: 2 }, 1, W)).toThrow(/dev\.version 2 is not supported/);
  });

  it("checks integers for type and range, naming the field", () => {
    expect(expectInt({ n: 5 }, "n", 0, 5, W)).toBe(5);
    expect(() => expectInt({ n: 6 }, "n", 0, 5, W)).toThrow(RangeError);
    expect(() => expectInt({ n: -1 }, "n", 0, 5, W)).toThrow(/dev\.n must be in \[0, 5\], got -1/);
    expect(() => expectInt({ n: 2.5 }, "n", 0, 5, W)).toThrow(TypeError);
    expect(() => expectInt({ n: NaN }, "n", 0, 5, W)).toThrow(/dev\.n must be an integer, got NaN/);
    expect(() => expectInt({}, "n", 0, 5, W)).toThrow(/got nothing \(it is missing\)/);
  });

  it("checks finite numbers", () => {
    expect(expectNumber({ t: 1.5 }, "t", 0, 2, W)).toBe(1.5);
    expect(() => expectNumber({ t: Infinity }, "t", 0, Infinity, W)).toThrow(TypeError);
    expect(() => expectNumber({ t: 3 }, "t", 0, 2, W)).toThrow(RangeError);
  });

  it("checks booleans without coercion", () => {
    expect(expectBool({ b: false }, "b", W)).toBe(false);
    expect(() => expectBool({ b: 0 }, "b", W)).toThrow(/dev\.b must be a boolean, got 0/);
  });

  it("checks byte arrays element by element, including the holes of a sparse array", () => {
    expect(expectBytes({ a: [0, 255] }, "a", 0, 4, W)).toEqual([0, 255]);
    expect(() => expectBytes({ a: "ab" }, "a", 0, 4, W)).toThrow(TypeError);
    expect(() => expectBytes({ a: [1, 2, 3] }, "a", 0, 2, W)).toThrow(RangeError);
    expect(() => expectBytes({ a: [1, 256] }, "a", 0, 4, W)).toThrow(/dev\.a\[1\]/);
    expect(() => expectBytes({ a: [1, "2"] }, "a", 0, 4, W)).toThrow(TypeError);
    const sparse = new Array<number>(3);
    sparse[0] = 1;
    sparse[2] = 3;
    expect(() => expectBytes({ a: sparse }, "a", 0, 4, W)).toThrow(
      /dev\.a\[1\] must be an integer, got nothing \(it is missing\)/,
    );
  });

  it("checks integer arrays against their own bounds", () => {
    expect(expectIntArray({ a: [0, 0x100] }, "a", 0, 0x100, 0, 2, W)).toEqual([0, 0x100]);
    expect(() => expectIntArray({ a: [0x101] }, "a", 0, 0x100, 0, 2, W)).toThrow(
      /dev\.a\[0\] must be in \[0, 256\], got 257/,
    );
    expect(() => expectIntArray({ a: [] }, "a", 0, 9, 1, 2, W)).toThrow(/must hold 1\.\.2/);
  });

  it("describes values JSON cannot print without failing on them", () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => expectInt({ n: circular }, "n", 0, 1, W)).toThrow(/^dev\.n must be an integer/);
    expect(() => expectInt({ n: 1n }, "n", 0, 1, W)).toThrow(/dev\.n must be an integer, got 1n/);
    expect(() => expectBool({ b: () => 0 }, "b", W)).toThrow(/got function/);
    // A huge value is cut short in the message.
    const message = (() => {
      try {
        expectInt({ n: "x".repeat(10_000) }, "n", 0, 1, W);
      } catch (error) {
        return (error as Error).message;
      }
      return "";
    })();
    expect(message).toMatch(/^dev\.n must be an integer, got "x+\.\.\.$/);
    expect(message.length).toBeLessThan(100);
  });
});
