// Command client-go-bench runs scenarios A-E of benches/queue_throughput.rs against client-go's
// work-queue (k8s.io/client-go/util/workqueue), with the same rules, and prints `<scenario> <ops/s>`.
//
// Rules (identical to the Rust side): an op is one key through Add -> Get -> Done; producers and
// workers are goroutines (GOMAXPROCS = number of CPUs), started together; producers run for 2 s, then
// the queue drains, and the rate is keys done divided by the time from the start to the last Done.
// Producers pause (runtime.Gosched) while more than 10,000 keys are added but not done, and yield
// every 64 adds. Keys are "k-<n>" strings formatted inside the producer loop.
//
//	A: 1 producer, 1 worker, unique keys.
//	B: 4 producers, 4 workers, unique keys.
//	C: 4 producers, 4 workers, 1,000 hot keys from each producer's own offset: processed/s and adds/s.
//	D: 4 producers calling AddRateLimited (exponential limiter, 1 ns base, 1 s cap), 4 workers doing
//	   Get, Forget, Done.
//	E: 1 producer, 4 workers, AddAfter with delays uniform in 0-1 ms for 100,000 keys on a fresh
//	   queue; the rate is 100,000 over the time until all are done. The pause rule applies here too.
//
// It is built in GOPATH mode against the client-go vendored in Debian's kubernetes source package
// (client-go v0.20.2, Kubernetes 1.20.2); see benches/peers/run.
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/util/workqueue"
)

const (
	produceFor     = 2 * time.Second
	maxOutstanding = 10000
	yieldEvery     = 64
	hotKeys        = 1000
	delayedKeys    = 100000
)

type keys int

const (
	unique keys = iota
	hot
	delayed
)

type counters struct {
	outstanding int64
	added       int64
	done        int64
	inHand      int64
	stop        int32
	total       int64
	endOnce     sync.Once
	end         time.Time
}

type outcome struct {
	done, added int64
	secs        float64
}

func produce(q workqueue.RateLimitingInterface, rateLimited bool, c *counters, k keys, p, producers int64, wg *sync.WaitGroup) {
	defer wg.Done()
	rng := rand.New(rand.NewSource(42))
	for i := int64(0); ; {
		if k == delayed && i == delayedKeys {
			return
		}
		if k != delayed && atomic.LoadInt32(&c.stop) != 0 {
			return
		}
		if k != hot && atomic.LoadInt64(&c.outstanding) > maxOutstanding {
			runtime.Gosched()
			continue
		}
		atomic.AddInt64(&c.outstanding, 1)
		switch k {
		case unique:
			key := "k-" + strconv.FormatInt(i*producers+p, 10)
			if rateLimited {
				q.AddRateLimited(key)
			} else {
				q.Add(key)
			}
		case hot:
			q.Add("k-" + strconv.FormatInt((p*hotKeys/producers+i)%hotKeys, 10))
		case delayed:
			q.AddAfter("k-"+strconv.FormatInt(i, 10), time.Duration(rng.Int63n(1000000)))
		}
		atomic.AddInt64(&c.added, 1)
		i++
		if i%yieldEvery == 0 {
			runtime.Gosched()
		}
	}
}

func work(q workqueue.RateLimitingInterface, forget bool, c *counters, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		item, shutdown := q.Get()
		if shutdown {
			return
		}
		atomic.AddInt64(&c.inHand, 1)
		if forget {
			q.Forget(item)
		}
		q.Done(item)
		atomic.AddInt64(&c.inHand, -1)
		atomic.AddInt64(&c.outstanding, -1)
		if atomic.AddInt64(&c.done, 1) == atomic.LoadInt64(&c.total) {
			c.endOnce.Do(func() { c.end = time.Now() })
		}
	}
}

func run(q workqueue.RateLimitingInterface, rateLimited bool, producers, workers int64, k keys) outcome {
	c := &counters{total: 1<<62 - 1}
	if k == delayed {
		c.total = delayedKeys
	}
	var pw, ww sync.WaitGroup
	start := time.Now()
	for w := int64(0); w < workers; w++ {
		ww.Add(1)
		go work(q, rateLimited, c, &ww)
	}
	for p := int64(0); p < producers; p++ {
		pw.Add(1)
		go produce(q, rateLimited, c, k, p, producers, &pw)
	}
	if k != delayed {
		time.Sleep(produceFor)
		atomic.StoreInt32(&c.stop, 1)
	}
	pw.Wait()
	var end time.Time
	if k == hot {
		quiet, last := 0, int64(-1)
		for {
			done := atomic.LoadInt64(&c.done)
			idle := q.Len() == 0 && atomic.LoadInt64(&c.inHand) == 0
			if idle && done == last {
				quiet++
			} else {
				quiet = 0
			}
			if quiet == 2 {
				end = time.Now()
				break
			}
			last = done
			time.Sleep(500 * time.Microsecond)
		}
	} else {
		if k == unique {
			atomic.StoreInt64(&c.total, atomic.LoadInt64(&c.added))
		}
		for {
			if atomic.LoadInt64(&c.done) >= atomic.LoadInt64(&c.total) {
				c.endOnce.Do(func() { c.end = time.Now() })
				end = c.end
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	q.ShutDown()
	ww.Wait()
	return outcome{done: c.done, added: c.added, secs: end.Sub(start).Seconds()}
}

func main() {
	only := flag.String("only", "ABCDE", "the scenarios to run, e.g. -only A")
	flag.Parse()
	for _, s := range []string{"A", "B", "C", "D", "E"} {
		if !strings.Contains(*only, s) {
			continue
		}
		var o outcome
		switch s {
		case "A":
			o = run(workqueue.NewRateLimitingQueue(workqueue.DefaultControllerRateLimiter()), false, 1, 1, unique)
		case "B":
			o = run(workqueue.NewRateLimitingQueue(workqueue.DefaultControllerRateLimiter()), false, 4, 4, unique)
		case "C":
			o = run(workqueue.NewRateLimitingQueue(workqueue.DefaultControllerRateLimiter()), false, 4, 4, hot)
		case "D":
			rl := workqueue.NewItemExponentialFailureRateLimiter(time.Nanosecond, time.Second)
			o = run(workqueue.NewRateLimitingQueue(rl), true, 4, 4, unique)
		case "E":
			o = run(workqueue.NewRateLimitingQueue(workqueue.DefaultControllerRateLimiter()), false, 1, 4, delayed)
		}
		fmt.Printf("%s %.0f\n", s, float64(o.done)/o.secs)
		if s == "C" {
			fmt.Printf("C-adds %.0f\n", float64(o.added)/o.secs)
		}
	}
}
