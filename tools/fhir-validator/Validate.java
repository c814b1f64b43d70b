// Validates FHIR R4 JSON resources with HAPI's FhirInstanceValidator (the HL7 validator engine)
// against the core R4 definitions, offline (no terminology server). Prints every message as
// "SEVERITY location: message" and exits 1 when any is an error or fatal.
//   java -cp 'third_party/fhir-validator/*' tools/fhir-validator/Validate.java FILE.json...
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.ResultSeverityEnum;
import ca.uhn.fhir.validation.SingleValidationMessage;
import ca.uhn.fhir.validation.ValidationResult;
import java.nio.file.Files;
import java.nio.file.Path;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;

public class Validate {
  public static void main(String[] args) throws Exception {
    FhirContext ctx = FhirContext.forR4();
    ValidationSupportChain chain = new ValidationSupportChain(
        new DefaultProfileValidationSupport(ctx),
        new CommonCodeSystemsTerminologyService(ctx),
        new InMemoryTerminologyServerValidationSupport(ctx),
        new SnapshotGeneratingValidationSupport(ctx));
    FhirInstanceValidator module = new FhirInstanceValidator(chain);
    module.setNoTerminologyChecks(false);
    FhirValidator validator = ctx.newValidator().registerValidatorModule(module);
    int errors = 0;
    for (String file : args) {
      ValidationResult result = validator.validateWithResult(Files.readString(Path.of(file)));
      for (SingleValidationMessage m : result.getMessages()) {
        System.out.println(m.getSeverity() + " " + m.getLocationString() + ": " + m.getMessage());
        if (m.getSeverity() == ResultSeverityEnum.ERROR || m.getSeverity() == ResultSeverityEnum.FATAL) errors++;
      }
    }
    System.out.println(errors == 0 ? "VALID" : "INVALID " + errors + " error(s)");
    System.exit(errors == 0 ? 0 : 1);
  }
}
