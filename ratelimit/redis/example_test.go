package redis_test

import (
	"fmt"
	"net/http"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/connectware/connectware/ratelimit"
	"github.com/connectware/connectware/ratelimit/redis"
)

// Every replica builds the same limiter on the shared Redis; together they
// allow each authenticated client 10 calls per second, bursts of 20.
func ExampleNew() {
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer client.Close()
	limiter := redis.New(client, ratelimit.Policy{Name: "per-client", Limit: 10, Burst: 20},
		redis.WithTimeout(50*time.Millisecond), redis.WithFailurePolicy(redis.FailOpen))
	handler := ratelimit.NewMiddleware(limiter, ratelimit.WithKey(ratelimit.KeyIdentity())).Wrap(http.NewServeMux())
	_ = handler
	fmt.Println(limiter.Key("demo-client"))
	// Output: ratelimit:per-client:{demo-client}
}
