;; CRC-32C (Castagnoli) over long runs of bytes, for crc32c.ts: slicing-by-8 in three independent
;; lanes. One lane waits on each step's table lookups before the next step can start; three lanes
;; keep the load units busy. scripts/make-kernels.mjs compiles this file into crc32c.wasm.ts.
;;
;; Memory (8 pages, never grown), in bytes; crc32c.ts fills the tables:
;;   0x00000  slicing-by-8 tables t0..t7, i32[256] each (t_k at 1024 * k), as in crc32c.ts
;;   0x02000  shift tables s0..s3, i32[256] each: the register after 4096 zero bytes is
;;            s0[r & 255] ^ s1[(r >> 8) & 255] ^ s2[(r >> 16) & 255] ^ s3[r >> 24]
;;   0x04000  the bytes to check (stageAt in crc32c.ts), up to 0x78000 bytes
;; Registers are raw (the caller applies the initial and final inversion).
(module
  (memory (export "memory") 8 8)

  ;; The register after 4096 zero bytes (the update is linear over GF(2)).
  (func $shift (param $c i32) (result i32)
    (i32.xor
      (i32.xor (i32.load offset=8192 (i32.shl (i32.and (local.get $c) (i32.const 255)) (i32.const 2)))
               (i32.load offset=9216 (i32.shl (i32.and (i32.shr_u (local.get $c) (i32.const 8)) (i32.const 255)) (i32.const 2))))
      (i32.xor (i32.load offset=10240 (i32.shl (i32.and (i32.shr_u (local.get $c) (i32.const 16)) (i32.const 255)) (i32.const 2)))
               (i32.load offset=11264 (i32.shl (i32.shr_u (local.get $c) (i32.const 24)) (i32.const 2))))))

  ;; Extends register $c with the $n bytes at $p ($p a multiple of 8, $n a multiple of 12288),
  ;; block by block: a block's three 4096-byte lanes run side by side, lanes 1 and 2 from a zero
  ;; register, then crc(A B C) = shift(shift(crc(A)) ^ crc0(B)) ^ crc0(C). Little-endian words.
  (func (export "lanes") (param $c i32) (param $p i32) (param $n i32) (result i32)
    (local $end i32) (local $laneEnd i32)
    (local $c0 i32) (local $c1 i32) (local $c2 i32)
    (local $x0 i32) (local $x1 i32) (local $x2 i32)
    (local $h0 i32) (local $h1 i32) (local $h2 i32)
    (local.set $c0 (local.get $c))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c1 (i32.const 0))
        (local.set $c2 (i32.const 0))
        (local.set $laneEnd (i32.add (local.get $p) (i32.const 4096)))
        (loop $words
          ;; lane 0: bytes 0.. of the block
          (local.set $x0 (i32.xor (local.get $c0) (i32.load offset=0 (local.get $p))))
          (local.set $h0 (i32.load offset=4 (local.get $p)))
          (local.set $c0
            (i32.xor
              (i32.xor
                (i32.xor (i32.load offset=7168 (i32.shl (i32.and (local.get $x0) (i32.const 255)) (i32.const 2)))
                         (i32.load offset=6144 (i32.shl (i32.and (i32.shr_u (local.get $x0) (i32.const 8)) (i32.const 255)) (i32.const 2))))
                (i32.xor (i32.load offset=5120 (i32.shl (i32.and (i32.shr_u (local.get $x0) (i32.const 16)) (i32.const 255)) (i32.const 2)))
                         (i32.load offset=4096 (i32.shl (i32.shr_u (local.get $x0) (i32.const 24)) (i32.const 2)))))
              (i32.xor
                (i32.xor (i32.load offset=3072 (i32.shl (i32.and (local.get $h0) (i32.const 255)) (i32.const 2)))
                         (i32.load offset=2048 (i32.shl (i32.and (i32.shr_u (local.get $h0) (i32.const 8)) (i32.const 255)) (i32.const 2))))
                (i32.xor (i32.load offset=1024 (i32.shl (i32.and (i32.shr_u (local.get $h0) (i32.const 16)) (i32.const 255)) (i32.const 2)))
                         (i32.load (i32.shl (i32.shr_u (local.get $h0) (i32.const 24)) (i32.const 2)))))))
          ;; lane 1: bytes 4096.. of the block
          (local.set $x1 (i32.xor (local.get $c1) (i32.load offset=4096 (local.get $p))))
          (local.set $h1 (i32.load offset=4100 (local.get $p)))
          (local.set $c1
            (i32.xor
              (i32.xor
                (i32.xor (i32.load offset=7168 (i32.shl (i32.and (local.get $x1) (i32.const 255)) (i32.const 2)))
                         (i32.load offset=6144 (i32.shl (i32.and (i32.shr_u (local.get $x1) (i32.const 8)) (i32.const 255)) (i32.const 2))))
                (i32.xor (i32.load offset=5120 (i32.shl (i32.and (i32.shr_u (local.get $x1) (i32.const 16)) (i32.const 255)) (i32.const 2)))
                         (i32.load offset=4096 (i32.shl (i32.shr_u (local.get $x1) (i32.const 24)) (i32.const 2)))))
              (i32.xor
                (i32.xor (i32.load offset=3072 (i32.shl (i32.and (local.get $h1) (i32.const 255)) (i32.const 2)))
                         (i32.load offset=2048 (i32.shl (i32.and (i32.shr_u (local.get $h1) (i32.const 8)) (i32.const 255)) (i32.const 2))))
                (i32.xor (i32.load offset=1024 (i32.shl (i32.and (i32.shr_u (local.get $h1) (i32.const 16)) (i32.const 255)) (i32.const 2)))
                         (i32.load (i32.shl (i32.shr_u (local.get $h1) (i32.const 24)) (i32.const 2)))))))
          ;; lane 2: bytes 8192.. of the block
          (local.set $x2 (i32.xor (local.get $c2) (i32.load offset=8192 (local.get $p))))
          (local.set $h2 (i32.load offset=8196 (local.get $p)))
          (local.set $c2
            (i32.xor
              (i32.xor
                (i32.xor (i32.load offset=7168 (i32.shl (i32.and (local.get $x2) (i32.const 255)) (i32.const 2)))
                         (i32.load offset=6144 (i32.shl (i32.and (i32.shr_u (local.get $x2) (i32.const 8)) (i32.const 255)) (i32.const 2))))
                (i32.xor (i32.load offset=5120 (i32.shl (i32.and (i32.shr_u (local.get $x2) (i32.const 16)) (i32.const 255)) (i32.const 2)))
                         (i32.load offset=4096 (i32.shl (i32.shr_u (local.get $x2) (i32.const 24)) (i32.const 2)))))
              (i32.xor
                (i32.xor (i32.load offset=3072 (i32.shl (i32.and (local.get $h2) (i32.const 255)) (i32.const 2)))
                         (i32.load offset=2048 (i32.shl (i32.and (i32.shr_u (local.get $h2) (i32.const 8)) (i32.const 255)) (i32.const 2))))
                (i32.xor (i32.load offset=1024 (i32.shl (i32.and (i32.shr_u (local.get $h2) (i32.const 16)) (i32.const 255)) (i32.const 2)))
                         (i32.load (i32.shl (i32.shr_u (local.get $h2) (i32.const 24)) (i32.const 2)))))))
          (local.set $p (i32.add (local.get $p) (i32.const 8)))
          (br_if $words (i32.lt_u (local.get $p) (local.get $laneEnd))))
        (local.set $c0 (i32.xor (call $shift (i32.xor (call $shift (local.get $c0)) (local.get $c1))) (local.get $c2)))
        (local.set $p (i32.add (local.get $p) (i32.const 8192)))
        (br $blocks)))
    (local.get $c0))
)
