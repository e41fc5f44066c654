// Checks for restoring saved device state. A snapshot may come from a file or
// another tab, so every field is checked before a device changes anything:
// a wrong type is a TypeError, a value out of range a RangeError.

export type Fields = Record<string, unknown>;

export function expectObject(value: unknown, what: string): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object, got ${describeValue(value)}`);
  }
  return value as Fields;
}

export function expectVersion(fields: Fields, version: number, what: string): void {
  const got = fields.version;
  if (typeof got !== "number") throw new TypeError(`${what}.version must be a number`);
  if (got !== version)
    throw new RangeError(`${what}.version ${got} is not supported (want ${version})`);
}

export function expectInt(
  fields: Fields,
  key: string,
  min: number,
  max: number,
  what: string,
): number {
  const value = fields[key];
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`${what}.${key} must be an integer, got ${describeValue(value)}`);
  }
  if (value < min || value > max) {
    throw new RangeError(`${what}.${key} must be in [${min}, ${max}], got ${value}`);
  }
  return value;
}

export function expectNumber(
  fields: Fields,
  key: string,
  min: number,
  max: number,
  what: string,
): number {
  const value = fields[key];
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TypeError(`${what}.${key} must be a finite number, got ${describeValue(value)}`);
  }
  if (value < min || value > max) {
    throw new RangeError(`${what}.${key} must be in [${min}, ${max}], got ${value}`);
  }
  return value;
}

export function expectBool(fields: Fields, key: string, what: string): boolean {
  const value = fields[key];
  if (typeof value !== "boolean") {
    throw new TypeError(`${what}.${key} must be a boolean, got ${describeValue(value)}`);
  }
  return value;
}

/** An array of bytes with a length in [minLength, maxLength]. */
export function expectBytes(
  fields: Fields,
  key: string,
  minLength: number,
  maxLength: number,
  what: string,
): number[] {
  return expectIntArray(fields, key, 0, 0xff, minLength, maxLength, what, "bytes");
}

/** An array of integers in [min, max] with a length in [minLength, maxLength]. */
export function expectIntArray(
  fields: Fields,
  key: string,
  min: number,
  max: number,
  minLength: number,
  maxLength: number,
  what: string,
  items = `integers in [${min}, ${max}]`,
): number[] {
  const value = fields[key];
  if (!Array.isArray(value)) throw new TypeError(`${what}.${key} must be an array of ${items}`);
  if (value.length < minLength || value.length > maxLength) {
    throw new RangeError(
      `${what}.${key} must hold ${minLength}..${maxLength} ${items}, got ${value.length}`,
    );
  }
  // An index loop, not forEach: forEach skips the holes of a sparse array.
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (typeof item !== "number" || !Number.isInteger(item)) {
      throw new TypeError(`${what}.${key}[${i}] must be an integer, got ${describeValue(item)}`);
    }
    if (item < min || item > max) {
      throw new RangeError(`${what}.${key}[${i}] must be in [${min}, ${max}], got ${item}`);
    }
  }
  return value as number[];
}

const DESCRIBE_LIMIT = 40;

/** A short rendering of a bad value for an error message; never throws. */
/** A value as a person reads it in a refusal (a missing field says so). */
export function describeValue(value: unknown): string {
  let text: string;
  if (value === undefined) text = "nothing (it is missing)";
  else if (typeof value === "number")
    text = String(value); // JSON would print NaN as null
  else if (typeof value === "bigint") text = `${value}n`;
  else if (typeof value === "function" || typeof value === "symbol") text = typeof value;
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = Object.prototype.toString.call(value); // circular
    }
  }
  return text.length > DESCRIBE_LIMIT ? `${text.slice(0, DESCRIBE_LIMIT)}...` : text;
}
