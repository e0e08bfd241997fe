;; One Adam step over float32 arrays in the wasm backend's own heap, four lanes at a time.
;; Compiled by scripts/build-wasm-kernels.mjs into adamModule.ts; see adam.ts for what calls it.
;; Each lane does tfjs's AdamOptimizer arithmetic, in its order, in float32:
;;   m' = m·β1 + g·(1−β1)        v' = v·β2 + (g·g)·(1−β2)
;;   x' = ((m'/d1) / (sqrt(v'/d2) + ε))·(−lr) + x      d1 = 1−β1^t, d2 = 1−β2^t
;; Pointers are byte offsets; n is the number of elements, a multiple of 4.
(module
  (import "env" "memory" (memory 1))
  (func (export "adam")
    (param $x i32) (param $m i32) (param $v i32) (param $g i32)
    (param $xo i32) (param $mo i32) (param $vo i32) (param $n i32)
    (param $b1 f32) (param $b2 f32) (param $c1 f32) (param $c2 f32)
    (param $d1 f32) (param $d2 f32) (param $eps f32) (param $step f32)
    (local $i i32) (local $end i32)
    (local $B1 v128) (local $B2 v128) (local $C1 v128) (local $C2 v128)
    (local $D1 v128) (local $D2 v128) (local $EPS v128) (local $STEP v128)
    (local $gr v128) (local $m1 v128) (local $v1 v128)
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $D1 (f32x4.splat (local.get $d1)))
    (local.set $D2 (f32x4.splat (local.get $d2)))
    (local.set $EPS (f32x4.splat (local.get $eps)))
    (local.set $STEP (f32x4.splat (local.get $step)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $gr (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $m1
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $i))) (local.get $B1))
            (f32x4.mul (local.get $gr) (local.get $C1))))
        (local.set $v1
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $i))) (local.get $B2))
            (f32x4.mul (f32x4.mul (local.get $gr) (local.get $gr)) (local.get $C2))))
        (v128.store (i32.add (local.get $mo) (local.get $i)) (local.get $m1))
        (v128.store (i32.add (local.get $vo) (local.get $i)) (local.get $v1))
        (v128.store (i32.add (local.get $xo) (local.get $i))
          (f32x4.add
            (f32x4.mul
              (f32x4.div
                (f32x4.div (local.get $m1) (local.get $D1))
                (f32x4.add (f32x4.sqrt (f32x4.div (local.get $v1) (local.get $D2))) (local.get $EPS)))
              (local.get $STEP))
            (v128.load (i32.add (local.get $x) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next)))))
