/**
 * DTOs of the conversion check shown in the diff panel (a .tflite against its float source). The
 * shapes mirror src/analysis/conversionCheck.ts; the host assigns that result to these types, so the
 * compiler keeps them in step. JSON-safe: absent numbers are null.
 */

/** One TFLite weight against its (BatchNorm-folded) float original. */
export interface ConversionTensorCheckDto {
  /** TFLite tensor name. */
  tflite: string;
  /** Float tensor name; null when compared with zeros (a bias the converter added). */
  float: string | null;
  /** Keras weight name ('kernel', 'depthwise_kernel', 'bias'). */
  weight: string;
  /** TFLite shape. */
  shapeTflite: number[];
  /** Keras shape it maps to. */
  shapeKeras: number[];
  /** Axis permutation (Keras axis i = TFLite axis permutation[i]). */
  permutation: number[];
  /** TFLite storage dtype. */
  storageDtype: string;
  /** int8-per-channel | int8-per-tensor | float16 | float32 | other. */
  storage: string;
  /** Elements compared. */
  count: number;
  /** ||float||; null when not compared. */
  normFloat: number | null;
  /** ||tflite - float||; null when not compared. */
  errorNorm: number | null;
  /** Relative L2 error; null when not compared. */
  relL2: number | null;
  /** SQNR in dB; null when exact or not compared. */
  sqnrDb: number | null;
  /** max |error|; null when not compared. */
  maxAbsError: number | null;
  /** Why it was not compared. */
  error?: { reason: string; message: string };
}

/** One TFLite layer against its float layer. */
export interface ConversionLayerCheckDto {
  /** TFLite layer name. */
  layer: string;
  /** TFLite op. */
  op: string;
  /** Operator index; null when unknown. */
  opIndex: number | null;
  /** Float layer; null when none was found. */
  floatLayer: string | null;
  /** 'name' | 'order'; null when unpaired. */
  matchedBy: string | null;
  /** BatchNormalization folded into the float layer, when one was. */
  foldedBatchNorm: { layer: string; epsilon: number; source: string } | null;
  /** Per weight. */
  tensors: ConversionTensorCheckDto[];
  /** Elements compared. */
  count: number;
  /** Relative L2 error over the layer; null when nothing compared. */
  relL2: number | null;
  /** SQNR over the layer, dB; null when exact or nothing compared. */
  sqnrDb: number | null;
  /** Largest |error|; null when nothing compared. */
  maxAbsError: number | null;
  /** Measured SQNR of the kernel, dB; null when exact or not compared. */
  kernelSqnrDb: number | null;
  /** Predicted kernel SQNR for the storage the converter chose; null for float32 storage. */
  predicted: { scheme: string; sqnrDb: number | null; zeroedFraction: number } | null;
  /** True when the layer's error stands out. */
  standsOut: boolean;
  /** Why it stands out. */
  why?: string;
}

/** The conversion check. */
export interface ConversionCheckDto {
  /** TFLite path. */
  tflitePath: string;
  /** Float model path. */
  floatPath: string;
  /** Which diff side is the TFLite file. */
  tfliteSide: 'a' | 'b';
  /** Conversion mode from the TFLite file, when known. */
  conversionMode: string | null;
  /** Per TFLite layer, in op order. */
  layers: ConversionLayerCheckDto[];
  /** Float layers with weights no TFLite layer was paired with. */
  unmatchedFloatLayers: string[];
  /** Median relative error; null when nothing compared. */
  medianRelL2: number | null;
  /** Layers that stand out, worst first. */
  outliers: string[];
  /** True when the float file is not the model the .tflite was converted from. */
  sourceMismatch: boolean;
  /** Thresholds used. */
  thresholds: { lowSqnrDb: number; outlierMedianRatio: number; outlierMinRelL2: number };
}
