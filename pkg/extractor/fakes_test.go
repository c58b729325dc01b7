package extractor

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/nsflow/nsflow/pkg/netsuite"
)

type fakeNS struct{}

func (fakeNS) SuiteQL(context.Context, string, int, int) (*netsuite.SuiteQLPage, error) {
	return &netsuite.SuiteQLPage{}, nil
}

func (fakeNS) GetRecord(context.Context, string, string, url.Values) (json.RawMessage, error) {
	return nil, nil
}

type fakePub struct{}

func (fakePub) PublishContext(context.Context, string, ...*message.Message) error { return nil }
