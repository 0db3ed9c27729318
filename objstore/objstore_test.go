package objstore

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEngineLinksNoCloudSDK: the engine (package job) and the packages
// under it build without any cloud SDK; only this package brings them.
func TestEngineLinksNoCloudSDK(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	out, err := exec.CommandContext(t.Context(), goTool, "list", "-deps", "github.com/dcor-stream/dcor-stream/job").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		for _, sdk := range []string{"gocloud.dev", "github.com/aws/", "github.com/Azure/", "cloud.google.com/", "google.golang.org/api", "/objstore"} {
			if strings.Contains(p, sdk) {
				t.Errorf("package job depends on %s", p)
			}
		}
	}
	if !strings.Contains(string(out), "github.com/dcor-stream/dcor-stream/arrowio") {
		t.Errorf("go list -deps ./job does not list arrowio: %s", out)
	}
}

// TestSplitURL: the bucket URL keeps the query, adds path-style
// addressing for a custom S3 endpoint, and names the bucket and key.
func TestSplitURL(t *testing.T) {
	for _, tt := range []struct {
		raw, env                   string
		bucketURL, bucket, key, as string
	}{
		{raw: "s3://acts/a/x.arrow?region=eu-west-1", bucketURL: "s3://acts?region=eu-west-1&response_checksum_validation=when_required", bucket: "acts", key: "a/x.arrow"},
		{raw: "s3://acts/x.npy", env: "http://minio:9000", bucketURL: "s3://acts?response_checksum_validation=when_required&use_path_style=true", bucket: "acts", key: "x.npy"},
		{raw: "s3://acts/x.npy?use_path_style=false", env: "http://minio:9000", bucketURL: "s3://acts?response_checksum_validation=when_required&use_path_style=false", bucket: "acts", key: "x.npy"},
		{raw: "gs://b/k.parquet", bucketURL: "gs://b", bucket: "b", key: "k.parquet"},
		{raw: "azblob://c/", as: "want azblob://BUCKET/KEY"},
	} {
		getenv := func(k string) string {
			if k == "AWS_ENDPOINT_URL_S3" {
				return tt.env
			}
			return ""
		}
		u, b, k, err := splitURL(tt.raw, getenv)
		if tt.as != "" {
			if err == nil || err.Error() != tt.as {
				t.Errorf("splitURL(%q): err %v, want %q", tt.raw, err, tt.as)
			}
			continue
		}
		if err != nil || u != tt.bucketURL || b != tt.bucket || k != tt.key {
			t.Errorf("splitURL(%q, endpoint %q) = %q, %q, %q, %v; want %q, %q, %q", tt.raw, tt.env, u, b, k, err, tt.bucketURL, tt.bucket, tt.key)
		}
	}
}
