;; The float32 hot loops of the statistics engine (tensorStats.ts) as WebAssembly SIMD.
;; scripts/make-kernels.mjs compiles this file into statsKernels.wasm.ts; statsKernels.ts loads it.
;;
;; Memory of one instance (4 MiB, never grown), in bytes:
;;   0x000000  radix counts of the elements at even positions, u32[65536]
;;   0x040000  radix counts of the elements at odd positions, u32[65536]
;;   0x080000  per-radix-bin pass-2 codes, u8[65536]: bit 1 linear histogram, 2 log histogram,
;;             4 near-zero count, 8 percentile target (the perValue* flags of tensorStats.ts)
;;   0x090000  picked element indices, i32[65536]
;;   0x0d0000  pass-1 accumulators, f64[10] (the accS1 ... accZeros slots of tensorStats.ts);
;;             0x0d0080 and 0x0d0084: i32 lengths of the two pass-2 lists
;;   0x0e0000  log bin of the smallest |x| of each radix bin of |x|, i16[32768]
;;   0x100000  values, f32[262144]
;;   0x200000  linear histogram counts, u32[32768]
;;   0x220000  log histogram counts, u32[32768]
;;   0x240000  log histogram thresholds 10^e_i, f64[32769]
;;   0x290000  pass-2 list of percentile-target elements (indices), i32[65536]
;;   0x2d0000  pass-2 list of elements too close to a linear edge to bin here (indices), i32[65536]
;; A radix key is the top 16 bits of the order-preserving key of a float32 bit pattern b:
;; ((b >> 31) | 0x80000000) ^ b (arithmetic shift), as in tensorStats.ts.
(module
  (memory (export "memory") 64 64)

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
    (local $inf v128) (local $sign v128) (local $eq0 v128)
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
        (local.set $eq0 (f32x4.eq (local.get $a) (v128.const i32x4 0 0 0 0)))
        (local.set $z (i32x4.sub (local.get $z) (local.get $eq0)))
        (local.set $mnz (f32x4.pmin (local.get $mnz) (v128.bitselect (local.get $inf) (local.get $a) (local.get $eq0))))
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

  ;; The pick of pass 2 over n float32 values at byte offset p (n a multiple of 4, at most 65536, 16-byte
  ;; aligned p): writes the indices (0-based from p) of the values whose radix bin has a non-zero
  ;; code to the picked area, in order, and returns how many there are.
  (func $pick (param $p i32) (param $n i32) (result i32)
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
    (i32.shr_u (i32.sub (local.get $m) (i32.const 0x90000)) (i32.const 2)))

  ;; Pass 2 over n float32 values at byte offset p (as pick): picks the values of coded bins, then
  ;; for each counts the linear histogram bin (t = (x - first) * norm truncated), the near-zero count
  ;; (|x| < thr) and the log histogram bin (the radix bin's table entry, stepped over the thresholds
  ;; |x| reaches), each where its bit is set (the log one only when hasLog), without branching on
  ;; the codes. Values whose t lies within tol of a bin edge go to the edge list and percentile-target
  ;; values to the target list, both for the caller. Returns the near-zero count.
  (func (export "pass2") (param $p i32) (param $n i32) (param $first f64) (param $norm f64) (param $tol f64)
    (param $thr f64) (param $bins i32) (param $hasLog i32) (result i32)
    (local $m i32) (local $j i32) (local $i i32) (local $addr i32) (local $bits i32) (local $code i32)
    (local $x f64) (local $a f64) (local $t f64) (local $fr f64) (local $upper f64)
    (local $b i32) (local $g i32) (local $last i32) (local $nz i32) (local $mt i32) (local $mf i32)
    (local.set $m (call $pick (local.get $p) (local.get $n)))
    (local.set $last (i32.sub (local.get $bins) (i32.const 1)))
    (local.set $upper (f64.sub (f64.const 1) (local.get $tol)))
    (local.set $mt (i32.const 0x290000))
    (local.set $mf (i32.const 0x2d0000))
    (block $done
      (br_if $done (i32.eqz (local.get $m)))
      (loop $each
        (local.set $i (i32.load offset=0x90000 (i32.shl (local.get $j) (i32.const 2))))
        (local.set $addr (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $bits (i32.load (local.get $addr)))
        (local.set $x (f64.promote_f32 (f32.load (local.get $addr))))
        (local.set $code (i32.load8_u offset=0x80000
          (i32.shr_u
            (i32.xor (i32.or (i32.shr_s (local.get $bits) (i32.const 31)) (i32.const 0x80000000)) (local.get $bits))
            (i32.const 16))))
        ;; linear histogram
        (local.set $t (f64.mul (f64.sub (local.get $x) (local.get $first)) (local.get $norm)))
        (local.set $b (i32.trunc_sat_f64_s (local.get $t)))
        (local.set $fr (f64.sub (local.get $t) (f64.convert_i32_s (local.get $b))))
        (if (i32.and
              (i32.and (local.get $code) (i32.const 1))
              (i32.or
                (i32.or (f64.lt (local.get $fr) (local.get $tol)) (f64.gt (local.get $fr) (local.get $upper)))
                (i32.ge_u (local.get $b) (local.get $bins))))
          (then
            (i32.store (local.get $mf) (local.get $i))
            (local.set $mf (i32.add (local.get $mf) (i32.const 4))))
          (else
            ;; bins without the bit add 0 (to bin 0 when t is out of range)
            (local.set $addr (i32.shl
              (select (local.get $b) (i32.const 0) (i32.lt_u (local.get $b) (local.get $bins)))
              (i32.const 2)))
            (i32.store offset=0x200000 (local.get $addr)
              (i32.add (i32.load offset=0x200000 (local.get $addr)) (i32.and (local.get $code) (i32.const 1))))))
        ;; near-zero count
        (local.set $a (f64.abs (local.get $x)))
        (local.set $nz (i32.add (local.get $nz)
          (i32.and (i32.shr_u (local.get $code) (i32.const 2)) (f64.lt (local.get $a) (local.get $thr)))))
        ;; log histogram: first step without a branch, further steps (many thin bins) in a loop
        (local.set $g (i32.load16_s offset=0xe0000
          (i32.shl (i32.and (i32.shr_u (local.get $bits) (i32.const 16)) (i32.const 0x7fff)) (i32.const 1))))
        (local.set $g (i32.add (local.get $g)
          (i32.and
            (i32.lt_s (local.get $g) (local.get $last))
            (f64.ge (local.get $a) (f64.load offset=0x240008 (i32.shl (local.get $g) (i32.const 3)))))))
        (block $stepped
          (loop $step
            (br_if $stepped (i32.ge_s (local.get $g) (local.get $last)))
            (br_if $stepped (f64.lt (local.get $a) (f64.load offset=0x240008 (i32.shl (local.get $g) (i32.const 3)))))
            (local.set $g (i32.add (local.get $g) (i32.const 1)))
            (br $step)))
        (local.set $addr (i32.shl (local.get $g) (i32.const 2)))
        (i32.store offset=0x220000 (local.get $addr)
          (i32.add (i32.load offset=0x220000 (local.get $addr))
            (i32.and
              (i32.and (i32.shr_u (local.get $code) (i32.const 1)) (local.get $hasLog))
              (f64.ne (local.get $a) (f64.const 0)))))
        ;; percentile targets, listed for the caller
        (i32.store (local.get $mt) (local.get $i))
        (local.set $mt (i32.add (local.get $mt)
          (i32.shl (i32.and (i32.shr_u (local.get $code) (i32.const 3)) (i32.const 1)) (i32.const 2))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $each (i32.lt_u (local.get $j) (local.get $m)))))
    (i32.store (i32.const 0xd0080) (i32.shr_u (i32.sub (local.get $mt) (i32.const 0x290000)) (i32.const 2)))
    (i32.store (i32.const 0xd0084) (i32.shr_u (i32.sub (local.get $mf) (i32.const 0x2d0000)) (i32.const 2)))
    (local.get $nz))

  ;; Sum of n float32 values at byte offset p (n a multiple of 4) in float64 (a chunk's mean, the
  ;; shift of its power sums).
  (func (export "sum") (param $p i32) (param $n i32) (result f64)
    (local $end i32) (local $v v128) (local $s v128)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (loop $top
        (local.set $v (v128.load (local.get $p)))
        (local.set $s (f64x2.add (local.get $s)
          (f64x2.add
            (f64x2.promote_low_f32x4 (local.get $v))
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br_if $top (i32.lt_u (local.get $p) (local.get $end)))))
    (f64.add (f64x2.extract_lane 0 (local.get $s)) (f64x2.extract_lane 1 (local.get $s))))

  ;; Adds the odd-position radix counts into the even-position ones and zeroes them.
  (func (export "mergeRadix")
    (local $q i32)
    (loop $top
      (v128.store (local.get $q)
        (i32x4.add (v128.load (local.get $q)) (v128.load offset=0x40000 (local.get $q))))
      (v128.store offset=0x40000 (local.get $q) (v128.const i32x4 0 0 0 0))
      (local.set $q (i32.add (local.get $q) (i32.const 16)))
      (br_if $top (i32.lt_u (local.get $q) (i32.const 0x40000)))))

  ;; Writes the radix bins with a non-zero even-position count, in order, to the picked area and
  ;; returns how many there are.
  (func (export "nonzeroBins") (result i32)
    (local $k i32) (local $m i32)
    (local.set $m (i32.const 0x90000))
    (loop $top
      (i32.store (local.get $m) (local.get $k))
      (local.set $m (i32.add (local.get $m)
        (i32.shl (i32.ne (i32.load (i32.shl (local.get $k) (i32.const 2))) (i32.const 0)) (i32.const 2))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $top (i32.lt_u (local.get $k) (i32.const 65536))))
    (i32.shr_u (i32.sub (local.get $m) (i32.const 0x90000)) (i32.const 2))))
