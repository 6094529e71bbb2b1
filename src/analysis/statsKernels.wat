;; The float32 hot loops of the statistics engine (tensorStats.ts) as WebAssembly SIMD.
;; scripts/make-kernels.mjs compiles this file into statsKernels.wasm.ts; statsKernels.ts loads it.
;;
;; Memory of one instance (2 MiB, never grown), in bytes:
;;   0x000000  radix counts of the elements at even positions, u32[65536]
;;   0x040000  radix counts of the elements at odd positions, u32[65536]
;;   0x080000  per-radix-bin pass-2 codes (non-zero: the bin's values are picked), u8[65536]
;;   0x090000  picked element indices, i32[65536]
;;   0x0d0000  pass-1 accumulators, f64[10] (the accS1 ... accZeros slots of tensorStats.ts)
;;   0x100000  values, f32[262144]
;; A radix key is the top 16 bits of the order-preserving key of a float32 bit pattern b:
;; ((b >> 31) | 0x80000000) ^ b (arithmetic shift), as in tensorStats.ts.
(module
  (memory (export "memory") 32 32)

  ;; Pass 1 over n float32 values at byte offset p (n a multiple of 4, 16-byte aligned p):
  ;; power sums of x - shift (acc 0..3), sum of |x| (acc 5), and, continuing from the values the
  ;; caller stored in acc 6..8, the smallest value, the largest and the smallest non-zero |x|;
  ;; the count of zeros (acc 9); radix counts. Acc 4 (sum of squares) is left to the caller, which
  ;; derives it from the power sums. NaN/Inf make the sums non-finite; the caller then redoes the
  ;; chunk with its careful loop.
  (func (export "pass1") (param $p i32) (param $n i32) (param $shift f64)
    (local $end i32) (local $v v128) (local $k v128) (local $t i32)
    (local $lo v128) (local $hi v128) (local $dl v128) (local $dh v128) (local $ql v128) (local $qh v128)
    (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $s4 v128) (local $l1 v128)
    (local $sh v128) (local $mn v128) (local $mx v128) (local $mnz v128) (local $z v128) (local $a v128)
    (local $inf v128) (local $sign v128)
    (local.set $sh (f64x2.splat (local.get $shift)))
    (local.set $mn (f32x4.splat (f32.demote_f64 (f64.load (i32.const 0xd0030)))))
    (local.set $mx (f32x4.splat (f32.demote_f64 (f64.load (i32.const 0xd0038)))))
    (local.set $mnz (f32x4.splat (f32.demote_f64 (f64.load (i32.const 0xd0040)))))
    (local.set $inf (f32x4.splat (f32.const inf)))
    (local.set $sign (i32x4.splat (i32.const 0x80000000)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (loop $top
        (local.set $v (v128.load (local.get $p)))
        ;; radix counts: lanes 0 and 2 in the even table, 1 and 3 in the odd one
        (local.set $k
          (i32x4.shl
            (i32x4.shr_u
              (v128.xor (v128.or (i32x4.shr_s (local.get $v) (i32.const 31)) (local.get $sign)) (local.get $v))
              (i32.const 16))
            (i32.const 2)))
        (local.set $t (i32x4.extract_lane 0 (local.get $k)))
        (i32.store (local.get $t) (i32.add (i32.load (local.get $t)) (i32.const 1)))
        (local.set $t (i32x4.extract_lane 1 (local.get $k)))
        (i32.store offset=0x40000 (local.get $t) (i32.add (i32.load offset=0x40000 (local.get $t)) (i32.const 1)))
        (local.set $t (i32x4.extract_lane 2 (local.get $k)))
        (i32.store (local.get $t) (i32.add (i32.load (local.get $t)) (i32.const 1)))
        (local.set $t (i32x4.extract_lane 3 (local.get $k)))
        (i32.store offset=0x40000 (local.get $t) (i32.add (i32.load offset=0x40000 (local.get $t)) (i32.const 1)))
        ;; extremes (pmin/pmax keep the accumulator when a comparison is false, as the JS loop does)
        (local.set $mn (f32x4.pmin (local.get $mn) (local.get $v)))
        (local.set $mx (f32x4.pmax (local.get $mx) (local.get $v)))
        (local.set $a (f32x4.abs (local.get $v)))
        (local.set $z (i32x4.sub (local.get $z) (f32x4.eq (local.get $a) (v128.const i32x4 0 0 0 0))))
        (local.set $mnz
          (f32x4.pmin (local.get $mnz)
            (v128.bitselect (local.get $inf) (local.get $a) (f32x4.eq (local.get $a) (v128.const i32x4 0 0 0 0)))))
        ;; power sums in float64, lanes 0-1 and 2-3 side by side
        (local.set $lo (f64x2.promote_low_f32x4 (local.get $v)))
        (local.set $hi (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
        (local.set $dl (f64x2.sub (local.get $lo) (local.get $sh)))
        (local.set $dh (f64x2.sub (local.get $hi) (local.get $sh)))
        (local.set $s1 (f64x2.add (local.get $s1) (f64x2.add (local.get $dl) (local.get $dh))))
        (local.set $ql (f64x2.mul (local.get $dl) (local.get $dl)))
        (local.set $qh (f64x2.mul (local.get $dh) (local.get $dh)))
        (local.set $s2 (f64x2.add (local.get $s2) (f64x2.add (local.get $ql) (local.get $qh))))
        (local.set $s3 (f64x2.add (local.get $s3)
          (f64x2.add (f64x2.mul (local.get $ql) (local.get $dl)) (f64x2.mul (local.get $qh) (local.get $dh)))))
        (local.set $s4 (f64x2.add (local.get $s4)
          (f64x2.add (f64x2.mul (local.get $ql) (local.get $ql)) (f64x2.mul (local.get $qh) (local.get $qh)))))
        (local.set $l1 (f64x2.add (local.get $l1)
          (f64x2.add (f64x2.abs (local.get $lo)) (f64x2.abs (local.get $hi)))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br_if $top (i32.lt_u (local.get $p) (local.get $end)))))
    (f64.store (i32.const 0xd0000)
      (f64.add (f64x2.extract_lane 0 (local.get $s1)) (f64x2.extract_lane 1 (local.get $s1))))
    (f64.store (i32.const 0xd0008)
      (f64.add (f64x2.extract_lane 0 (local.get $s2)) (f64x2.extract_lane 1 (local.get $s2))))
    (f64.store (i32.const 0xd0010)
      (f64.add (f64x2.extract_lane 0 (local.get $s3)) (f64x2.extract_lane 1 (local.get $s3))))
    (f64.store (i32.const 0xd0018)
      (f64.add (f64x2.extract_lane 0 (local.get $s4)) (f64x2.extract_lane 1 (local.get $s4))))
    (f64.store (i32.const 0xd0028)
      (f64.add (f64x2.extract_lane 0 (local.get $l1)) (f64x2.extract_lane 1 (local.get $l1))))
    ;; fold the lanes of the extremes
    (local.set $mn (f32x4.pmin (local.get $mn)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $mn) (local.get $mn))))
    (local.set $mn (f32x4.pmin (local.get $mn)
      (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $mn) (local.get $mn))))
    (f64.store (i32.const 0xd0030) (f64.promote_f32 (f32x4.extract_lane 0 (local.get $mn))))
    (local.set $mx (f32x4.pmax (local.get $mx)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $mx) (local.get $mx))))
    (local.set $mx (f32x4.pmax (local.get $mx)
      (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $mx) (local.get $mx))))
    (f64.store (i32.const 0xd0038) (f64.promote_f32 (f32x4.extract_lane 0 (local.get $mx))))
    (local.set $mnz (f32x4.pmin (local.get $mnz)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $mnz) (local.get $mnz))))
    (local.set $mnz (f32x4.pmin (local.get $mnz)
      (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $mnz) (local.get $mnz))))
    (f64.store (i32.const 0xd0040) (f64.promote_f32 (f32x4.extract_lane 0 (local.get $mnz))))
    (f64.store (i32.const 0xd0048) (f64.convert_i32_u
      (i32.add
        (i32.add (i32x4.extract_lane 0 (local.get $z)) (i32x4.extract_lane 1 (local.get $z)))
        (i32.add (i32x4.extract_lane 2 (local.get $z)) (i32x4.extract_lane 3 (local.get $z)))))))

  ;; Pass-2 pick over n float32 values at byte offset p (n a multiple of 4, at most 65536, 16-byte
  ;; aligned p): writes the indices (0-based from p) of the values whose radix bin has a non-zero
  ;; code to the picked area, in order, and returns how many there are.
  (func (export "pick") (param $p i32) (param $n i32) (result i32)
    (local $end i32) (local $m i32) (local $i i32) (local $v v128) (local $k v128) (local $sign v128)
    (local.set $sign (i32x4.splat (i32.const 0x80000000)))
    (local.set $m (i32.const 0x90000))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (loop $top
        (local.set $v (v128.load (local.get $p)))
        (local.set $k
          (i32x4.shr_u
            (v128.xor (v128.or (i32x4.shr_s (local.get $v) (i32.const 31)) (local.get $sign)) (local.get $v))
            (i32.const 16)))
        (i32.store (local.get $m) (local.get $i))
        (local.set $m (i32.add (local.get $m)
          (i32.shl (i32.ne (i32.load8_u offset=0x80000 (i32x4.extract_lane 0 (local.get $k))) (i32.const 0)) (i32.const 2))))
        (i32.store (local.get $m) (i32.add (local.get $i) (i32.const 1)))
        (local.set $m (i32.add (local.get $m)
          (i32.shl (i32.ne (i32.load8_u offset=0x80000 (i32x4.extract_lane 1 (local.get $k))) (i32.const 0)) (i32.const 2))))
        (i32.store (local.get $m) (i32.add (local.get $i) (i32.const 2)))
        (local.set $m (i32.add (local.get $m)
          (i32.shl (i32.ne (i32.load8_u offset=0x80000 (i32x4.extract_lane 2 (local.get $k))) (i32.const 0)) (i32.const 2))))
        (i32.store (local.get $m) (i32.add (local.get $i) (i32.const 3)))
        (local.set $m (i32.add (local.get $m)
          (i32.shl (i32.ne (i32.load8_u offset=0x80000 (i32x4.extract_lane 3 (local.get $k))) (i32.const 0)) (i32.const 2))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br_if $top (i32.lt_u (local.get $p) (local.get $end)))))
    (i32.shr_u (i32.sub (local.get $m) (i32.const 0x90000)) (i32.const 2))))
