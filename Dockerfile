# Static, non-root image. Build: make docker-build IMG=...
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /partner-operator .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /partner-operator /partner-operator
USER 65532:65532
ENTRYPOINT ["/partner-operator"]
