# For those who build with a Docker daemon: make docker-build VERSION=... IMG=...
# The release image is built without one (make image, hack/release): the same static binary on
# an empty base with a CA bundle and the non-root user 65532; this file uses distroless for
# those two instead.
FROM golang:1.26 AS build
ARG VERSION=v0.0.0-docker
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/partnerops/partner-operator/internal/version.Version=${VERSION}" \
    -o /partner-operator .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /partner-operator /partner-operator
USER 65532:65532
ENTRYPOINT ["/partner-operator"]
