// Package objstore registers the object stores with package arrowio,
// through gocloud.dev/blob:
//
//	s3://bucket/key        Amazon S3 and S3-compatible stores (MinIO, Ceph)
//	gs://bucket/key        Google Cloud Storage
//	azblob://container/key Azure Blob Storage
//
// Import it for its side effect, as the command does:
//
//	import _ "github.com/dcor-stream/dcor-stream/objstore"
//
// A program that reads only local files need not: it then links none of
// the cloud SDKs, which are most of the command's size and of a fresh
// build's module downloads. Registering is all this package's init does
// (the exception to the rule of no init work, as for database/sql's
// drivers and gocloud.dev's own).
//
// Each store is configured by its cloud's standard environment, as its
// SDK reads it: for S3, credentials (AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, AWS_PROFILE, the shared files, a role),
// AWS_REGION, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL for another store;
// for GCS, Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS);
// for Azure, AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or
// AZURE_STORAGE_SAS_TOKEN, or a default Azure credential. Query parameters
// after the key are the bucket options of gocloud.dev's URL openers
// (s3://bucket/key?region=eu-west-1). With a custom S3 endpoint (the
// endpoint parameter, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL), requests
// use path-style addressing (http://host/bucket/key), which MinIO and Ceph
// need, unless use_path_style=false is given.
//
// Errors are this package's own where it can tell what happened: a
// missing object or bucket (wrapping os.ErrNotExist, and naming which),
// a store that cannot be reached (with the URL really requested, http or
// https), a refused permission; others carry the SDK's text.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob://
	_ "gocloud.dev/blob/gcsblob"   // gs://
	_ "gocloud.dev/blob/s3blob"    // s3://
	"gocloud.dev/gcerrors"

	"github.com/dcor-stream/dcor-stream/arrowio"
)

func init() {
	for _, s := range []string{"s3", "gs", "azblob"} {
		arrowio.RegisterObjectStore(s, open)
	}
}

// open is the arrowio.ObjectStore of every scheme.
func open(ctx context.Context, raw string) (arrowio.Bucket, string, error) {
	bucketURL, name, key, err := splitURL(raw, os.Getenv)
	if err != nil {
		return nil, "", err
	}
	b, err := blob.OpenBucket(ctx, bucketURL)
	if err != nil {
		return nil, "", err
	}
	return &bucket{b: b, name: name}, key, nil
}

// splitURL splits an object URL into the URL of its bucket (with the
// query), the bucket's name and the object's key.
func splitURL(raw string, getenv func(string) string) (bucketURL, name, key string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", "", err
	}
	key = strings.TrimPrefix(u.Path, "/")
	if u.Host == "" || key == "" {
		return "", "", "", fmt.Errorf("want %s://BUCKET/KEY", u.Scheme)
	}
	q := u.Query()
	if u.Scheme == "s3" {
		if !q.Has("use_path_style") && !q.Has("s3ForcePathStyle") &&
			(q.Has("endpoint") || getenv("AWS_ENDPOINT_URL_S3") != "" || getenv("AWS_ENDPOINT_URL") != "") {
			q.Set("use_path_style", "true")
		}
		// Ranged GETs carry no checksum of what they return, and the
		// SDK would say so on standard error for every request.
		if !q.Has("response_checksum_validation") {
			q.Set("response_checksum_validation", "when_required")
		}
	}
	b := url.URL{Scheme: u.Scheme, Host: u.Host, RawQuery: q.Encode()}
	return b.String(), u.Host, key, nil
}

// bucket is an arrowio.Bucket of gocloud.dev/blob. It is safe for
// concurrent use, as blob.Bucket is.
type bucket struct {
	b    *blob.Bucket
	name string
}

func (b *bucket) Attributes(ctx context.Context, key string) (arrowio.ObjectAttributes, error) {
	a, err := b.b.Attributes(ctx, key)
	if err != nil {
		return arrowio.ObjectAttributes{}, b.err(ctx, key, err)
	}
	return arrowio.ObjectAttributes{Size: a.Size, ETag: a.ETag, ModTime: a.ModTime}, nil
}

func (b *bucket) NewRangeReader(ctx context.Context, key string, offset, length int64) (arrowio.ObjectReader, error) {
	r, err := b.b.NewRangeReader(ctx, key, offset, length, nil)
	if err != nil {
		return nil, b.err(ctx, key, err)
	}
	return reader{r}, nil
}

func (b *bucket) Close() error { return b.b.Close() }

// err rephrases an error of the SDK about key: a missing object or bucket
// (one more request tells which), a store that cannot be reached, a
// refused permission.
func (b *bucket) err(ctx context.Context, key string, err error) error {
	var ue *url.Error
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		if ok, lerr := b.b.IsAccessible(ctx); lerr == nil && !ok {
			return fmt.Errorf("no such bucket %q: %w", b.name, os.ErrNotExist)
		}
		return fmt.Errorf("no such object %q in bucket %q: %w", key, b.name, os.ErrNotExist)
	case gcerrors.PermissionDenied:
		return fmt.Errorf("permission denied for object %q of bucket %q (see the credentials of the store's environment): %w", key, b.name, err)
	}
	if errors.As(err, &ue) {
		return fmt.Errorf("cannot reach the object store: %s %s: %w", ue.Op, ue.URL, ue.Err)
	}
	return err
}

// reader is an arrowio.ObjectReader of a blob.Reader.
type reader struct{ *blob.Reader }

func (r reader) Attributes() arrowio.ObjectAttributes {
	return arrowio.ObjectAttributes{Size: r.Size(), ModTime: r.ModTime()}
}
