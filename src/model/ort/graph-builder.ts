import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Element types the graphs use. */
export type ElementType = 'float32' | 'float16' | 'int64' | 'int32' | 'uint8';

const DATA_TYPE: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  uint8: onnx.TensorProto.DataType.UINT8,
};

const ELEMENT_BYTES: Record<ElementType, number> = { float32: 4, float16: 2, int64: 8, int32: 4, uint8: 1 };

/** A dimension: a fixed size or a symbolic name (a dynamic dimension shared by every value that uses the name). */
export type Dim = number | string;

export type AttributeValue =
  | number
  | string
  | number[]
  | { float: number }
  | { floats: number[] }
  | { tensor: onnxProto.onnx.ITensorProto };

/** Weight bytes handed to onnxruntime beside the graph (`sessionOptions.externalData`), so the graph stays small. */
export interface ExternalWeight {
  path: string;
  data: Uint8Array;
}

export interface BuiltModel {
  /** The serialised ModelProto (initializers refer to `externalData` by path). */
  bytes: Uint8Array;
  /**
   * Weight bytes by path. onnxruntime copies them into its own buffers during session creation (measured with
   * onnxruntime-node 1.30: overwriting them afterwards changes nothing), so drop every reference once the session
   * exists.
   */
  externalData: ExternalWeight[];
  /** Bytes of all initializers, for memory reporting. */
  weightBytes: number;
}

/**
 * A small typed helper over onnx-proto: declare inputs and outputs, add nodes (each returns its output names),
 * add initializers. Large initializers are stored as in-memory external data, so the ModelProto never approaches
 * protobuf's 2 GB limit and weight bytes are not re-encoded by protobufjs.
 */
export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly external: ExternalWeight[] = [];
  private readonly names = new Set<string>();
  private readonly constants = new Map<string, string>();
  private readonly deferredBuffers: { path: string; bytes: number; items: { at: number; bytes: number; fill: (dest: Uint8Array) => void }[] }[] = [];
  private counter = 0;
  private weightBytes = 0;

  constructor(
    readonly graphName: string,
    readonly opset = 17,
  ) {}

  /** A fresh value name with the given prefix. */
  fresh(prefix: string): string {
    let name: string;
    // "~" never appears in a claimed name (graph inputs and outputs), so a fresh name cannot take one.
    do name = `${prefix}~${this.counter++}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  /** Reserve an exact value name (for node outputs that are graph outputs, so no Identity copy is needed). */
  claim(name: string): string {
    if (this.names.has(name)) throw new Error(`GraphBuilder: value name ${name} is used twice`);
    this.names.add(name);
    return name;
  }

  input(name: string, type: ElementType, shape: Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), type, shape));
    return name;
  }

  /** Declare `value` a graph output named `name` (an Identity node renames it when the names differ). */
  output(value: string, name: string, type: ElementType, shape: Dim[]): string {
    if (value !== name) this.node('Identity', [value], { outputs: [this.claim(name)] });
    else if (!this.names.has(name)) throw new Error(`GraphBuilder: output ${name} is not a value`);
    this.outputs.push(valueInfo(name, type, shape));
    return name;
  }

  /**
   * Add a node. Returns its output names (`count` fresh names prefixed with the op's name, or `outputs`).
   * Attributes: numbers become INT (whole) or FLOAT; `{ float }` forces FLOAT; arrays of integers become INTS.
   */
  node(
    op: string,
    inputs: string[],
    opts: { attrs?: Record<string, AttributeValue>; outputs?: string[]; count?: number; domain?: string } = {},
  ): string[] {
    const outputs = opts.outputs ?? Array.from({ length: opts.count ?? 1 }, () => this.fresh(op.toLowerCase()));
    const attribute: onnxProto.onnx.IAttributeProto[] = [];
    for (const [name, v] of Object.entries(opts.attrs ?? {})) attribute.push(attributeProto(name, v));
    this.nodes.push({ opType: op, input: inputs, output: outputs, name: this.fresh(`n_${op}`), attribute, domain: opts.domain ?? '' });
    return outputs;
  }

  /** Single-output node. */
  op(op: string, inputs: string[], attrs?: Record<string, AttributeValue>, domain?: string): string {
    return this.node(op, inputs, { attrs, domain })[0]!;
  }

  /** A constant tensor (deduplicated by value for small ones); large ones are stored as external data. */
  initializer(name: string | undefined, type: ElementType, dims: number[], data: Float32Array | BigInt64Array | Int32Array | Uint8Array): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (data.length !== count) throw new Error(`GraphBuilder: initializer ${name} has ${data.length} values for dims [${dims}]`);
    const n = name === undefined ? this.fresh('const') : this.claim(name);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.weightBytes += bytes.byteLength;
    const tensor: onnxProto.onnx.ITensorProto = { name: n, dims, dataType: DATA_TYPE[type] };
    if (bytes.byteLength >= 1024) {
      // In-memory external data: onnxruntime-node passes it to AddExternalInitializersFromFilesInMemory.
      const path = `w${this.external.length}.bin`;
      this.external.push({ path, data: bytes });
      tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      tensor.externalData = [
        { key: 'location', value: path },
        { key: 'offset', value: '0' },
        { key: 'length', value: String(bytes.byteLength) },
      ];
    } else {
      tensor.rawData = bytes.slice();
    }
    this.initializers.push(tensor);
    return n;
  }

  /**
   * A float32 weight whose values are written by `fill` at `build()` (see `deferred`).
   */
  deferredInitializer(name: string, dims: number[], fill: (dest: Float32Array) => void): string {
    const count = dims.reduce((a, b) => a * b, 1);
    return this.deferred(name, 'float32', dims, (bytes) => fill(new Float32Array(bytes.buffer, bytes.byteOffset, count)));
  }

  /**
   * A weight whose bytes are written by `fill` at `build()`, straight into a shared buffer (one allocation and one
   * external-data entry per ≤ 512 MiB of weights; JavaScript caps one buffer's size). The weights then exist once
   * in JavaScript, for as long as the caller keeps the built model, and the source can hand each tensor over and
   * forget it.
   */
  deferred(name: string, type: ElementType, dims: number[], fill: (dest: Uint8Array) => void): string {
    const n = this.claim(name);
    const count = dims.reduce((a, b) => a * b, 1);
    const bytes = count * ELEMENT_BYTES[type];
    let buf = this.deferredBuffers[this.deferredBuffers.length - 1];
    if (!buf || (buf.bytes > 0 && buf.bytes + bytes > DEFERRED_BUFFER_BYTES)) {
      buf = { path: `weights${this.deferredBuffers.length}.bin`, bytes: 0, items: [] };
      this.deferredBuffers.push(buf);
    }
    const at = buf.bytes;
    buf.bytes += Math.ceil(bytes / 64) * 64; // 64-byte aligned slots
    buf.items.push({ at, bytes, fill });
    this.weightBytes += bytes;
    this.initializers.push({
      name: n,
      dims,
      dataType: DATA_TYPE[type],
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: buf.path },
        { key: 'offset', value: String(at) },
        { key: 'length', value: String(bytes) },
      ],
    });
    return n;
  }

  /** A small int64 constant, shared by every user of the same values. */
  ints(values: number[]): string {
    const key = `i64:${values.join(',')}`;
    let n = this.constants.get(key);
    if (!n) {
      n = this.initializer(undefined, 'int64', [values.length], BigInt64Array.from(values.map((v) => BigInt(v))));
      this.constants.set(key, n);
    }
    return n;
  }

  /** A scalar int64 constant (rank 0). */
  int(value: number): string {
    const key = `i64s:${value}`;
    let n = this.constants.get(key);
    if (!n) {
      n = this.initializer(undefined, 'int64', [], BigInt64Array.of(BigInt(value)));
      this.constants.set(key, n);
    }
    return n;
  }

  /** A float32 constant of the given dims (shared by value when it is a scalar). */
  floats(values: number[], dims: number[] = [values.length]): string {
    const key = `f32:${dims.join('x')}:${values.join(',')}`;
    let n = this.constants.get(key);
    if (!n) {
      n = this.initializer(undefined, 'float32', dims, Float32Array.from(values));
      this.constants.set(key, n);
    }
    return n;
  }

  build(): BuiltModel {
    const bytes = this.encode(this.initializers);
    const externalData = [...this.external];
    for (const b of this.deferredBuffers) {
      const blob = new Uint8Array(b.bytes);
      for (const d of b.items) d.fill(blob.subarray(d.at, d.at + d.bytes));
      externalData.push({ path: b.path, data: blob });
    }
    return { bytes, externalData, weightBytes: this.weightBytes };
  }

  /** Bytes of all initializers so far, for memory and disk estimates. */
  weightByteCount(): number {
    return this.weightBytes;
  }

  /**
   * The serialised graph with its external data by reference, no weight read: the same bytes for the same graph and
   * tensor sizes, so a hash of it tells apart the graphs that two builds (or two versions of this code) produce.
   */
  graphBytes(): Uint8Array {
    return this.encode(this.initializers);
  }

  /**
   * Writes the model to `dir` as `modelFile` beside one external-data file `dataFile`: each weight is filled into a
   * buffer of its own size, written and dropped, so JavaScript never holds more than the largest tensor. Every
   * weight starts at a multiple of 4 KiB, so that onnxruntime maps the file instead of copying it.
   */
  writeFiles(dir: string, modelFile: string, dataFile: string): { weightBytes: number; dataBytes: number } {
    const fd = openSync(join(dir, dataFile), 'w');
    const at = new Map<string, number>(); // old location:offset → offset in the data file
    let end = 0;
    const put = (key: string, write: (offset: number) => number) => {
      end = Math.ceil(end / DATA_ALIGNMENT) * DATA_ALIGNMENT;
      at.set(key, end);
      end += write(end);
    };
    try {
      for (const e of this.external) put(`${e.path}:0`, (offset) => writeAll(fd, e.data, offset));
      for (const b of this.deferredBuffers) {
        for (const d of b.items) {
          put(`${b.path}:${d.at}`, (offset) => {
            const data = new Uint8Array(d.bytes);
            d.fill(data);
            return writeAll(fd, data, offset);
          });
        }
      }
    } finally {
      closeSync(fd);
    }
    const initializers = this.initializers.map((t) => {
      if (!t.externalData) return t;
      const field = (k: string) => t.externalData!.find((e) => e.key === k)!.value!;
      const offset = at.get(`${field('location')}:${field('offset')}`)!;
      return {
        ...t,
        externalData: [
          { key: 'location', value: dataFile },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: field('length') },
        ],
      };
    });
    const model = this.encode(initializers);
    const mfd = openSync(join(dir, modelFile), 'w');
    try {
      writeAll(mfd, model, 0);
    } finally {
      closeSync(mfd);
    }
    return { weightBytes: this.weightBytes, dataBytes: end };
  }

  private encode(initializers: onnxProto.onnx.ITensorProto[]): Uint8Array {
    const model: onnxProto.onnx.IModelProto = {
      irVersion: 8,
      producerName: 'kvmerger',
      opsetImport: [
        { domain: '', version: this.opset },
        { domain: 'com.microsoft', version: 1 },
      ],
      graph: {
        name: this.graphName,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: initializers,
      },
    };
    return onnx.ModelProto.encode(model).finish();
  }
}

/** Offsets of weights in a written external-data file: the page size, so onnxruntime can map each one. */
const DATA_ALIGNMENT = 4096;

/** Writes all of `data` at `offset`; returns its length. */
function writeAll(fd: number, data: Uint8Array, offset: number): number {
  let done = 0;
  while (done < data.byteLength) done += writeSync(fd, data, done, data.byteLength - done, offset + done);
  return data.byteLength;
}

/** Most bytes of deferred weights in one buffer. */
const DEFERRED_BUFFER_BYTES = 512 * 2 ** 20;

function valueInfo(name: string, type: ElementType, shape: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[type],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attributeProto(name: string, v: AttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') {
    return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  }
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: T.FLOATS, floats: v.floats };
  return { name, type: T.TENSOR, t: v.tensor };
}
