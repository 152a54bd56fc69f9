// Copyright 2026 The connectware Authors. Licensed under the Apache License 2.0.

package validate

import (
	"context"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// A client or bidi stream that fails after requests went out is canceled,
// and its request stream must then end abnormally: if the request body
// ended cleanly, the server would take the messages it got for the whole
// stream. connect-go (v1 and v2) streams the request body through an
// io.Pipe that it only ever closes cleanly, so the pipe must not be closed
// before net/http has acted on the cancellation, which it does as follows:
//
//   - HTTP/2 without a response: RoundTrip aborts the stream (the server
//     gets RST_STREAM) and returns an error, and connect-go then closes the
//     pipe itself. Closing it any earlier could let the transport read the
//     end of the body first and send END_STREAM: it is left alone.
//   - HTTP/2 with a response: the cancellation is ignored until the
//     response body is closed, which aborts the stream before Close
//     returns. The pipe is closed after that, not before.
//   - HTTP/1.1 without a response: the cancellation makes net/http close
//     the connection, but RoundTrip does not return until the request body
//     has ended, and when the connection is closed cannot be seen: the pipe
//     is closed after releaseDelay. This alone rests on timing.
//   - HTTP/1.1 with a response: a connect-go server answers a client
//     stream once its handler is done, so the pipe is closed at once.
//
// A transport other than net/http's, or one not yet seen writing the
// request, is treated as HTTP/1.1. Only
// connect-go could make the timed case exact, by closing its pipe with an
// error when the call's context is done.

// releaseDelay is how long the request body of a canceled client stream
// stays open when the transport is not known to be HTTP/2 and no response
// has arrived: time for net/http's HTTP/1.1 transport to close the
// connection, so that the end of the body never reaches the server. Over
// HTTP/2 it is how long a response that arrived as the stream was canceled
// may stay open.
const releaseDelay = 100 * time.Millisecond

// wire is what net/http's client trace tells about a client stream: which
// HTTP version carries it, and whether the response has started. Flags
// stay false with a transport that is not net/http's.
type wire struct {
	http1    atomic.Bool // net/http wrote the request as HTTP/1.x
	http2    atomic.Bool // net/http wrote the request as HTTP/2
	response atomic.Bool // net/http read the first byte of the response
}

// trace returns ctx with a client trace that records w (any trace already
// in ctx still runs). HTTP/1.x writes a "Host" header field, HTTP/2 a
// ":authority" pseudo-header.
func (w *wire) trace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaderField: func(name string, _ []string) {
			switch name {
			case "Host":
				w.http1.Store(true)
			case ":authority":
				w.http2.Store(true)
			}
		},
		GotFirstResponseByte: func() { w.response.Store(true) },
	})
}

// release finishes a canceled stream on the wire once its response side
// was closed, with closeResponse (responded reports that a response
// message had arrived, so that there was a response to close). It calls
// closeRequest at once if a response had arrived; never over HTTP/2
// without one, as connect-go closes the request once RoundTrip returns;
// and after releaseDelay otherwise. Over HTTP/2 it calls closeResponse
// again after releaseDelay: if the response arrived just as the stream was
// canceled, RoundTrip may have returned it after closeResponse found none,
// and the stream stays open until the response is closed.
func (w *wire) release(responded bool, closeResponse, closeRequest func()) {
	switch {
	case responded:
		closeRequest()
	case w.http2.Load():
		time.AfterFunc(releaseDelay, closeResponse)
	default:
		time.AfterFunc(releaseDelay, closeRequest)
	}
}

// cancelUnblocksReceive reports whether a Receive pending on a canceled
// stream returns by itself: over HTTP/1.x (net/http closes the connection),
// and over HTTP/2 until the response has started.
func (w *wire) cancelUnblocksReceive() bool {
	return w.http1.Load() || (w.http2.Load() && !w.response.Load())
}
